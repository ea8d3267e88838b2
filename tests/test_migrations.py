from __future__ import annotations

from pathlib import Path

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


def test_coupons_issued_before_per_fan_limits_become_each_fans_first_and_can_go_back(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import text

    from data.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'fanbot.db'}"
    engine = make_engine(url)
    upgrade(engine, "0013")
    at = "'2026-11-28 00:00:00'"
    with engine.begin() as connection:
        for statement in (
            f"INSERT INTO partners (id, name, category, address, active, access_code_hash, created_at)"
            f" VALUES (1, '湯', '', '', 1, '', {at})",
            f"INSERT INTO fans (id, source, is_following, created_at) VALUES (1, 'line', 1, {at})",
            "INSERT INTO campaigns (id, partner_id, title, offer_text, terms, per_fan_limit, total_cap,"
            " issued_count, target_rule, holdout_share, state, created_at, updated_at)"
            f" VALUES (1, 1, 't', 'o', '', 1, 10, 1, '{{}}', 0.1, 'active', {at}, {at})",
            "INSERT INTO coupons (campaign_id, partner_id, fan_id, code, state, offer_title, offer_text,"
            " offer_terms, issued_at, valid_from, expires_at)"
            f" VALUES (1, 1, 1, 'ABCDEFGHJK', 'issued', 't', 'o', '', {at}, {at}, {at})",
        ):
            connection.execute(text(statement))
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT seq, occasion FROM coupons")).one() == (1, "")
    command.downgrade(alembic_config(url), "0013")
    assert current_revision(engine) == "0013"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM coupons")).scalar() == 1
    engine.dispose()
