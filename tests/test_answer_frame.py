"""The database loader for the analysis and the export, and `fanbot analyze --from-database`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
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
