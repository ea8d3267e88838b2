"""What every ``fanbot`` command shares: settings and one database session per command.

Commands import this module, never `bot.cli` (which imports the commands), so imports
point one way. Commands that do not talk to LINE load `DatabaseSettings` and so run
without the channel's secrets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.settings import DatabaseSettings, Settings, SettingsError
from data.database import make_engine, make_session_factory
from data.migrate import current_revision, head_revision

NO_SCHEMA = "データベースにまだ表がありません。先に `fanbot db upgrade` を実行してください。"
OLD_SCHEMA = (
    "データベースの形式が古いままです（{current}、最新は {head}）。"
    "先に `fanbot db upgrade` を実行してください。"
)


def load_settings() -> Settings:
    """Full settings, LINE's secrets included: for commands that talk to LINE or serve fans."""
    try:
        return Settings.from_env()
    except SettingsError as error:
        raise click.ClickException(str(error)) from error


def load_database_settings() -> DatabaseSettings:
    """Settings for commands that only use the database (no LINE secrets needed)."""
    try:
        return DatabaseSettings.from_env()
    except SettingsError as error:
        raise click.ClickException(str(error)) from error


def require_schema(engine: Engine) -> None:
    """Stop with a Japanese instruction, not an SQL error, when the schema is missing or behind."""
    current, head = current_revision(engine), head_revision()
    if current is None:
        raise click.ClickException(NO_SCHEMA)
    if current != head:
        raise click.ClickException(OLD_SCHEMA.format(current=current, head=head))


@contextmanager
def session_scope(database_url: str) -> Iterator[Session]:
    """One session for one command: commits when the block ends normally, rolls back on any
    error (a command that decides to store nothing calls ``session.rollback()`` itself), and
    disposes of the engine afterwards."""
    engine = make_engine(database_url)
    try:
        require_schema(engine)
        with make_session_factory(engine)() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        engine.dispose()
