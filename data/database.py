"""Engine and session setup for the fan database.

SQLite is the embedded default so one machine needs nothing installed;
PostgreSQL (via ``DATABASE_URL``) is the scale-out engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, create_engine, event
from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SQLiteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.base import ReadOnlyColumnCollection

DEFAULT_SQLITE_PATH = Path("var") / "fanbot.db"


def default_database_url() -> str:
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def normalize_url(url: str) -> str:
    """Route plain ``postgresql://`` URLs to psycopg 3, the driver we ship."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # Web threads, the sender and the scheduler share the file: wait for locks instead of failing.
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's implicit transaction handling defers BEGIN; take control so that
    # BEGIN IMMEDIATE below serialises writers instead of failing on upgrade.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock at BEGIN, so read-then-write transactions
    # (claim a row, redeem a code) cannot interleave and deadlock on SQLite.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


UpsertInsert = PostgresInsert | SQLiteInsert


def upsert(
    session: Session,
    table: Any,
    rows: Mapping[str, Any] | Select[Any],
    *,
    keys: Sequence[str],
    update: Callable[[ReadOnlyColumnCollection[str, Any]], Mapping[str, Any]],
    columns: Sequence[str] = (),
) -> UpsertInsert:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE`` in the session's dialect (SQLite or PostgreSQL).

    ``rows`` is one row's values, or a SELECT feeding ``columns``; ``update`` gets the
    proposed row (``excluded``) and returns the columns to set on a conflict. The one place
    that chooses between the two dialects' INSERTs, so no caller writes the upsert twice.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        insert: UpsertInsert = pg_insert(table)
    elif dialect == "sqlite":
        insert = sqlite_insert(table)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(dialect)
    insert = insert.from_select(list(columns), rows) if isinstance(rows, Select) else insert.values(**rows)
    return insert.on_conflict_do_update(index_elements=list(keys), set_=dict(update(insert.excluded)))
