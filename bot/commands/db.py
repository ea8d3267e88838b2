"""``fanbot db upgrade``: apply the Alembic migrations."""

from __future__ import annotations

import click

from bot.commands.session import load_database_settings


@click.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations to DATABASE_URL."""
    from data.database import make_engine
    from data.migrate import current_revision, upgrade

    engine = make_engine(load_database_settings().database_url)
    try:
        upgrade(engine, revision)
        click.echo(f"database at revision {current_revision(engine)}")
    finally:
        engine.dispose()
