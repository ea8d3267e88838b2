"""The ``fanbot`` command line: thin shells over the same functions the web app uses."""

from __future__ import annotations

import sys

import click

from bot.settings import Settings, SettingsError


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        raise click.ClickException(str(error)) from error


@click.group()
def cli() -> None:
    """fanbot: survey, segmentation and partner coupons for a team's LINE account."""


@cli.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations to DATABASE_URL."""
    from data.database import make_engine
    from data.migrate import current_revision, upgrade

    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine, revision)
        click.echo(f"database at revision {current_revision(engine)}")
    finally:
        engine.dispose()


def _register_optional_commands(group: click.Group) -> None:
    from bot.commands import COMMANDS

    for command in COMMANDS():
        group.add_command(command)


def main(argv: list[str] | None = None) -> None:
    _register_optional_commands(cli)
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="fanbot")
