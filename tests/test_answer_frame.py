"""The database loader for the analysis and the export, and `fanbot analyze --from-database`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from bot.commands.analyze import analyze
from bot.commands.export_answers import export_answers
from bot.settings import CONSENT_VERSION
from data.answer_frame import answers_frame
from data.answers import record_answer
from data.catalog import load_catalog
from data.models import Fan
from tests.conftest import FrozenClock


def add_fan(session: Session, clock: FrozenClock, answers: dict[str, float], **fields: object) -> int:
    fan = Fan(created_at=clock(), **fields)
    session.add(fan)
    session.flush()
    for item_id, value in answers.items():
        record_answer(session, fan.id, item_id, value, clock())
    return fan.id


def test_frame_holds_consented_and_anonymous_answers_only(db_session: Session, clock: FrozenClock) -> None:
    consented = add_fan(
        db_session,
        clock,
        {"likes_super_sento": 1, "live_games_per_year": 12},
        line_user_id="U" + "a" * 32,
        consented_at=clock(),
        consent_version=CONSENT_VERSION,
    )
    add_fan(db_session, clock, {"likes_super_sento": 0}, line_user_id="U" + "b" * 32)  # never consented
    add_fan(  # consented to an older consent text only: kept, but unused until they agree again
        db_session,
        clock,
        {"likes_super_sento": 0},
        line_user_id="U" + "c" * 32,
        consented_at=clock(),
        consent_version="2020-01",
    )
    add_fan(db_session, clock, {"likes_super_sento": 0}, consented_at=clock(), deleted_at=clock())
    anonymous = add_fan(db_session, clock, {"likes_sauna": 1}, source="import", external_ref="import:7")
    db_session.commit()

    frame = answers_frame(db_session, load_catalog(), CONSENT_VERSION)
    assert list(frame.index) == [consented, anonymous]
    catalog_order = load_catalog().ids()
    assert list(frame.columns) == sorted(frame.columns, key=catalog_order.index)
    assert frame.loc[consented, "live_games_per_year"] == 12
    assert frame["likes_super_sento"].isna()[anonymous]
    assert frame.loc[anonymous, "likes_sauna"] == 1


def test_empty_database_gives_an_empty_frame(db_session: Session) -> None:
    frame = answers_frame(db_session, load_catalog(), CONSENT_VERSION)
    assert frame.empty
    assert frame.index.name == "fan_id"


def test_export_writes_what_import_and_analyze_read(
    database_url: str, db_session: Session, clock: FrozenClock, tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    for index in range(40):
        sento = float(rng.integers(0, 2))
        add_fan(
            db_session,
            clock,
            {
                "likes_super_sento": sento,
                "likes_sauna": sento if index % 4 else 1 - sento,
                "owns_team_goods": 1.0,
            },
            source="import",
            external_ref=f"import:{index}",
        )
    db_session.commit()
    env = {"DATABASE_URL": database_url, "LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t"}
    runner = CliRunner()

    exported = runner.invoke(export_answers, [str(tmp_path / "answers.csv")], env=env)
    assert exported.exit_code == 0, exported.output
    table = pd.read_csv(tmp_path / "answers.csv", encoding="utf-8-sig")
    items = {"likes_super_sento", "likes_sauna", "owns_team_goods"}
    assert list(table.columns) == ["fan_id", *[i for i in load_catalog().ids() if i in items]]
    assert len(table) == 40
    assert set(table["likes_super_sento"]) <= {0, 1}

    from_db = runner.invoke(
        analyze, ["--from-database", "--out", str(tmp_path / "db"), "--no-progress"], env=env
    )
    from_file = runner.invoke(
        analyze, [str(tmp_path / "answers.csv"), "--out", str(tmp_path / "file"), "--no-progress"], env=env
    )
    assert from_db.exit_code == 0, from_db.output
    assert from_file.exit_code == 0, from_file.output
    pairs_db = pd.read_csv(tmp_path / "db" / "pairs.csv")
    pairs_file = pd.read_csv(tmp_path / "file" / "pairs.csv")
    pd.testing.assert_frame_equal(pairs_db, pairs_file)
    pair = pairs_db[
        (pairs_db.item_a + "|" + pairs_db.item_b).isin(
            ["likes_super_sento|likes_sauna", "likes_sauna|likes_super_sento"]
        )
    ]
    assert len(pair) == 1
    assert float(pair["r"].iloc[0]) > 0.3  # planted: sauna copies sento for 3 fans in 4


def test_analyze_needs_exactly_one_source(tmp_path: Path) -> None:
    runner = CliRunner()
    neither = runner.invoke(analyze, ["--out", str(tmp_path)])
    assert neither.exit_code != 0
    assert "FILE or --from-database" in neither.output


def test_export_refuses_an_unknown_file_type(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url, "LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t"}
    result = CliRunner().invoke(export_answers, [str(tmp_path / "answers.json")], env=env)
    assert result.exit_code != 0
    assert ".csv か .xlsx" in result.output


def _reference_frame(session: Session, version: str) -> pd.DataFrame:
    """The obvious loader, as the reference: read_sql of the usable answers, then pivot."""
    from sqlalchemy import select

    from data.consent import analysable_clause
    from data.models import Answer

    query = (
        select(Answer.fan_id, Answer.item_id, Answer.value)
        .join(Fan, Fan.id == Answer.fan_id)
        .where(analysable_clause(version))
    )
    long = pd.read_sql(query, session.connection())
    wide = long.pivot(index="fan_id", columns="item_id", values="value").astype(np.float64)
    order = [item for item in load_catalog().ids() if item in wide.columns]
    return wide.loc[:, order].rename_axis(columns=None)


def test_frame_equals_read_sql_and_pivot_bit_for_bit_across_id_ranges(
    db_session: Session, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from data import answer_frame as module
    from data.models import Answer

    # Ranges of 7 answer ids: many SQLite queries, and only some ranges hold a value that is
    # not a whole number (which that range must read exactly).
    monkeypatch.setattr(module, "SQLITE_ID_RANGE", 7)
    rng = np.random.default_rng(11)
    catalog = load_catalog()
    items = catalog.ids()[:12]
    odd = {3: 2.5, 17: 0.1, 40: 1 / 3, 41: -0.0, 55: 1e300, 56: 2.0**60, 57: -7.0}
    answer = 0
    for index in range(30):
        fan = Fan(created_at=clock(), source="import", external_ref=f"import:{index}")
        db_session.add(fan)
        db_session.flush()
        for item_id in items:
            if rng.random() < 0.4:
                continue
            value = odd.get(answer, float(rng.integers(0, 5)))
            db_session.add(Answer(fan_id=fan.id, item_id=item_id, value=value, answered_at=clock()))
            answer += 1
        db_session.flush()
        if index == 0:
            db_session.add(
                Answer(fan_id=fan.id, item_id="not_in_the_catalog", value=1.0, answered_at=clock())
            )
    never = add_fan(db_session, clock, {"likes_sauna": 1}, line_user_id="U" + "d" * 32)  # no consent
    # A far-away id: the loader's dense id table gives way to a binary search.
    add_fan(
        db_session, clock, {"likes_sauna": 1.0}, id=10_000_000, source="import", external_ref="import:far"
    )
    db_session.commit()

    frame = answers_frame(db_session, catalog, CONSENT_VERSION)
    reference = _reference_frame(db_session, CONSENT_VERSION)
    assert never not in frame.index
    assert frame.loc[10_000_000, "likes_sauna"] == 1.0
    assert "not_in_the_catalog" not in frame.columns
    pd.testing.assert_frame_equal(frame, reference, check_exact=True)
    assert {1 / 3, 0.1, 2.5, 1e300, 2.0**60} <= set(frame.to_numpy().ravel().tolist())
