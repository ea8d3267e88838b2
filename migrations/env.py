"""Alembic environment: runs migrations on the URL fanbot passes in (or alembic.ini's)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import coupons.models
import coupons.visits  # noqa: F401  (check-in codes and visits on Base.metadata)
import data.games
import data.line_quota  # (the stored LINE quota on Base.metadata)
import data.outbox  # noqa: F401  (the push outbox on Base.metadata)
from data.database import make_engine
from data.migrate import include_object, migration_connection
from data.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    # render_as_batch lets ALTER TABLE migrations work on SQLite too.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with migration_connection(engine) as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
