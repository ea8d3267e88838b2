"""The marketer's and operator's commands: import-answers, survey stats, richmenu setup."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.commands import COMMANDS
from bot.commands.import_answers import import_answers_command
from bot.commands.richmenu import richmenu
from bot.commands.survey import display_width, survey
from data.answers import record_answer
from data.models import AnonymousCount, Answer, Fan
from tests.conftest import ACCESS_TOKEN, CHANNEL_SECRET, emulator_state

BASEBALL = "interested_pro_baseball"  # yes_no, first in the catalog
LIVE_GAMES = "live_games_per_year"  # count
NOW = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings also read ./.env; run where there is none so only `env=` counts.
    monkeypatch.chdir(tmp_path)


def environment(database_url: str, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        **extra,
    }


def invoke(command: Any, args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(command, args, env=env, catch_exceptions=False)


def count(engine: Engine, model: type[Fan] | type[Answer]) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_all_commands_are_registered() -> None:
    names = {command.name for command in COMMANDS()}

    assert {"import-answers", "survey", "richmenu"} <= names


def test_import_answers_commits_the_file_and_prints_a_summary(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "回答.csv"
    path.write_text(f"id,{BASEBALL},{LIVE_GAMES}\nr1,はい,12\nr2,いいえ,\n", encoding="utf-8-sig")

    result = invoke(import_answers_command, [str(path)], environment(database_url))

    assert result.exit_code == 0, result.output
    assert "取り込みました" in result.stdout
    assert "保存した回答:       3" in result.stdout
    assert count(engine, Fan) == 2
    assert count(engine, Answer) == 3


def test_import_answers_with_bad_values_lists_them_and_stores_nothing(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "answers.csv"
    path.write_text(f"id,{BASEBALL},{LIVE_GAMES}\nr1,1,3\nr2,たぶん,3\nr3,1,1000\n", encoding="utf-8")

    result = invoke(import_answers_command, [str(path)], environment(database_url))

    assert result.exit_code == 1
    assert "何も保存していません" in result.stderr
    assert f"3行目 B列（{BASEBALL}）" in result.stderr
    assert f"4行目 C列（{LIVE_GAMES}）" in result.stderr
    assert "--skip-bad-rows" in result.stderr
    assert count(engine, Fan) == 0


def test_import_answers_skipping_bad_rows_lists_each_skipped_row(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "answers.csv"
    path.write_text(f"id,{BASEBALL},{LIVE_GAMES}\nr1,1,3\nr2,たぶん,3\nr3,1,1000\n", encoding="utf-8")

    result = invoke(import_answers_command, [str(path), "--skip-bad-rows"], environment(database_url))

    assert result.exit_code == 0, result.output
    assert "スキップした行:     2" in result.stdout
    assert "    3行目: " in result.stdout
    assert "    4行目: " in result.stdout
    assert count(engine, Fan) == 1


def test_import_answers_refuses_a_file_that_is_not_csv_or_excel(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text("{}", encoding="utf-8")

    result = CliRunner().invoke(import_answers_command, [str(path)], env=environment(database_url))

    assert result.exit_code == 1
    assert "CSV（.csv）かExcel（.xlsx）" in result.stderr


@pytest.fixture
def answered(engine: Engine) -> None:
    with Session(engine) as session:
        fans = [Fan(source="import", external_ref=f"import:{n}") for n in range(4)]
        session.add_all(fans)
        session.flush()
        for fan, yes, games in zip(fans, (1, 1, 1, 0), (10, 20, 0, 2), strict=True):
            record_answer(session, fan.id, BASEBALL, yes, NOW)
            record_answer(session, fan.id, LIVE_GAMES, games, NOW)
        session.add(AnonymousCount(key="deleted_fans", count=2))
        session.add(AnonymousCount(key="deleted_answers", count=1130))
        session.commit()


@pytest.mark.usefixtures("answered")
def test_survey_stats_prints_an_aligned_table_with_the_anonymous_counts(database_url: str) -> None:
    result = invoke(survey, ["stats"], environment(database_url))

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    table, footer = lines[:-1], lines[-1]
    assert len({display_width(line) for line in table}) == 1  # every line ends in the same column
    baseball = next(line for line in table if line.startswith(BASEBALL))
    assert "プロ野球に関心がある" in baseball
    assert baseball.split()[-2:] == ["4", "75.0%"]
    live = next(line for line in table if line.startswith(LIVE_GAMES))
    assert live.split()[-3:] == ["平均", "8.00", "回/年"]
    # Japanese for the marketer, no internal keys.
    assert footer == "削除後も残す匿名の集計: 削除された回答 1,130件、データを削除したファン 2人"
    assert result.stderr == ""  # not a terminal: no progress bar


@pytest.mark.usefixtures("answered")
def test_survey_stats_csv_is_machine_readable(database_url: str) -> None:
    result = invoke(survey, ["stats", "--csv"], environment(database_url))

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    by_id = {row["item_id"]: row for row in rows}
    assert len(rows) == 185
    assert by_id[BASEBALL]["answered"] == "4"
    assert float(by_id[BASEBALL]["yes_share"]) == pytest.approx(0.75)
    assert by_id[BASEBALL]["mean"] == ""
    assert float(by_id[LIVE_GAMES]["mean"]) == pytest.approx(8.0)
    assert "データを削除したファン 2人" in result.stderr  # the footer stays out of the CSV


def test_survey_stats_shows_a_progress_bar_on_stderr_when_asked(database_url: str) -> None:
    result = invoke(survey, ["stats", "--csv", "--progress"], environment(database_url))

    assert result.exit_code == 0, result.output
    assert "185/185" in result.stderr
    assert "185/185" not in result.stdout


def test_richmenu_setup_prints_the_new_default_menu_id(emulator: Any, tmp_path: Path) -> None:
    env = environment(f"sqlite:///{tmp_path / 'unused.db'}", LINE_API_BASE_URL=emulator.base_url)

    first = invoke(richmenu, ["setup"], env)
    second = invoke(richmenu, ["setup"], env)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    state = emulator_state(emulator)
    assert second.stdout.strip() == state.default_rich_menu_id
    assert list(state.rich_menus) == [second.stdout.strip()]
    assert state.violations == []


def test_richmenu_setup_explains_a_rejected_token(emulator: Any, tmp_path: Path) -> None:
    env = environment(
        f"sqlite:///{tmp_path / 'unused.db'}",
        LINE_API_BASE_URL=emulator.base_url,
        LINE_CHANNEL_ACCESS_TOKEN="wrong-token",
    )

    result = CliRunner().invoke(richmenu, ["setup"], env=env)

    assert result.exit_code == 1
    assert "リッチメニューを設定できませんでした" in result.stderr
    assert "401" in result.stderr
