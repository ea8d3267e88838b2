from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from data.database import make_engine
from data.migrate import current_revision, include_object, upgrade
from data.models import Base


def test_migrations_build_exactly_the_models_schema(engine: Engine) -> None:
    # The fixture database was built by `upgrade`; autogenerate must find nothing to change.
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    assert {"fans", "answers", "webhook_events"} <= set(inspect(engine).get_table_names())


def test_upgrade_creates_a_new_sqlite_database_and_is_repeatable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'fanbot.db'}")
    upgrade(engine)
    first = current_revision(engine)
    upgrade(engine)
    assert first is not None
    assert current_revision(engine) == first
    engine.dispose()
