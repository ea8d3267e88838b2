"""Schema upgrades through Alembic, callable from the CLI, `make run` and tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

from data.database import normalize_url

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Tables another library owns in fanbot's database (APScheduler's job store, created on first
# start of `fanbot scheduler`): migrations neither create nor drop them.
EXTERNAL_TABLES = frozenset({"scheduler_jobs"})


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic's filter: leave the `EXTERNAL_TABLES` (and their indexes) alone."""
    table = getattr(obj, "table", None)
    owner = name if type_ == "table" else getattr(table, "name", None)
    return owner not in EXTERNAL_TABLES


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on '%' in passwords.
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction to migrate on; on SQLite, foreign keys are checked at the end.

    A batch migration on SQLite copies a table, drops the old one and renames the copy; with
    foreign keys enforced, dropping a table that other rows point at (campaigns, from coupons)
    fails. The pragma does nothing inside a transaction, so it is switched off before the
    transaction begins, and ``foreign_key_check`` proves the result consistent before commit.
    """
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        # On the driver's own connection: SQLAlchemy's would BEGIN (IMMEDIATE) first.
        raw = connection.connection.driver_connection
        if sqlite and raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration left rows pointing at missing rows: {broken[:5]}")
        finally:
            if sqlite and raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database behind ``engine`` to ``revision``."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with migration_connection(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision in migrations/ (the one `upgrade` brings a database to)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
