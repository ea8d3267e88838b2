"""The schedule in the database: CSV and iCalendar import by stable key, results, postponements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.commands.games import games
from data.demo import demo_season
from data.games import (
    Game,
    GameError,
    ImportResult,
    import_games,
    mark_final,
    next_game,
    parse_games_csv,
    parse_games_ics,
    postpone,
    upcoming_home_games,
)

NOW = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)
CSV = """key,tipoff,opponent,home_away,venue
g1,2026-12-01 19:00,秋田ノーザンハピネッツ,home,みちのくアリーナ
g2,2026-12-05T15:05:00+09:00,仙台89ERS,away,ゼビオアリーナ仙台
"""
ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//team//schedule//JA
BEGIN:VEVENT
UID:game-1201@team.example
DTSTART:20261201T100000Z
SUMMARY:vs \xe7\xa7\x8b\xe7\x94\xb0
LOCATION:\xe3\x81\xbf\xe3\x81\xa1\xe3\x81\xae\xe3\x81\x8f\xe3\x82\xa2\xe3\x83\xaa\xe3\x83\xbc\xe3\x83\x8a
END:VEVENT
BEGIN:VEVENT
UID:game-1205@team.example
DTSTART;TZID=Asia/Tokyo:20261205T150500
SUMMARY:@ \xe4\xbb\x99\xe5\x8f\xb0
END:VEVENT
END:VCALENDAR
"""


def _keys(session: Session) -> list[tuple[str, str, bool, str]]:
    return [
        (g.key, g.opponent, g.home, g.tipoff_tokyo.strftime("%m-%d %H:%M"))
        for g in session.scalars(select(Game).order_by(Game.tipoff_at))
    ]


def test_csv_import_stores_utc_shows_tokyo_and_updates_by_key(db_session: Session) -> None:
    assert import_games(db_session, parse_games_csv(CSV), NOW) == ImportResult(2, 0)
    db_session.commit()
    game = db_session.scalars(select(Game).where(Game.key == "g1")).one()
    # 19:00 in Tokyo is 10:00 UTC.
    assert game.tipoff_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert game.tipoff_tokyo.strftime("%H:%M") == "19:00"
    moved = CSV.replace("2026-12-01 19:00", "2026-12-02 18:00")
    assert import_games(db_session, parse_games_csv(moved), NOW) == ImportResult(0, 1)
    db_session.commit()
    assert _keys(db_session) == [
        ("g1", "秋田ノーザンハピネッツ", True, "12-02 18:00"),
        ("g2", "仙台89ERS", False, "12-05 15:05"),
    ]


def test_japanese_headers_are_read_too() -> None:
    text = "試合ID,開始日時,対戦相手,ホーム/アウェイ,会場\nx1,2026-12-01 19:00,秋田,ホーム,アリーナ\n"
    (row,) = parse_games_csv(text)
    assert (row.key, row.home, row.venue) == ("x1", True, "アリーナ")


def test_ics_import_reads_uid_start_summary_and_location(db_session: Session) -> None:
    rows = parse_games_ics(ICS)
    import_games(db_session, rows, NOW)
    db_session.commit()
    assert _keys(db_session) == [
        ("game-1201@team.example", "秋田", True, "12-01 19:00"),
        ("game-1205@team.example", "仙台", False, "12-05 15:05"),
    ]
    assert import_games(db_session, parse_games_ics(ICS), NOW) == ImportResult(0, 0)


def test_a_csv_without_keys_identifies_games_by_date_and_opponent(db_session: Session) -> None:
    text = "開始日時,対戦相手,ホーム/アウェイ,会場\n2026/12/5(土) 15:05,秋田,ホーム,みちのくアリーナ\n"
    (row,) = parse_games_csv(text)
    assert row.key == "2026-12-05 秋田"
    import_games(db_session, [row], NOW)
    # The same day and opponent at a new time and venue is the same game, updated.
    moved = parse_games_csv(
        text.replace("15:05,秋田,ホーム,みちのくアリーナ", "18:05,秋田,ホーム,サブアリーナ")
    )
    assert import_games(db_session, moved, NOW) == ImportResult(0, 1)
    db_session.commit()
    assert [(g.key, g.venue, g.tipoff_tokyo.strftime("%H:%M")) for g in db_session.scalars(select(Game))] == [
        ("2026-12-05 秋田", "サブアリーナ", "18:05")
    ]


@pytest.mark.parametrize(
    "written",
    [
        "2026-12-01T10:00Z",
        "2026-12-01 19:00",
        "2026/12/1 19:00",
        "2026年12月1日 19:00",
        "2026-12-01 19:00+09:00",
    ],
)
def test_tipoffs_are_read_as_schedules_write_them(written: str) -> None:
    (row,) = parse_games_csv(f"key,tipoff,opponent,home_away\ng1,{written},秋田,home\n")
    assert row.tipoff_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_date_and_time_columns_make_the_tipoff() -> None:
    (row,) = parse_games_csv("日付,開始時刻,相手,ホーム/アウェー\n2026/12/1(火),19:00,秋田,アウェー\n")
    assert (row.key, row.tipoff_at, row.home) == (
        "2026-12-01 秋田",
        datetime(2026, 12, 1, 10, tzinfo=UTC),
        False,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (CSV + "g3,来週の土曜,宇都宮,home,アリーナ\n", "4行目: 開始日時「来週の土曜」が読めません"),
        (CSV + "g3,2026-12-10,宇都宮,home,アリーナ\n", "4行目: 開始日時「2026-12-10」が読めません"),
        (CSV + "g3,2026-02-30 19:00,宇都宮,home,アリーナ\n", "4行目: 開始日時「2026-02-30 19:00」"),
        (CSV + "g3,,宇都宮,home,アリーナ\n", "4行目: 開始日時が空です"),
        (CSV + "g4,2026-12-10 19:00,宇都宮,neutral,アリーナ\n", "4行目: ホーム/アウェイ「neutral」"),
        (CSV + "g4,2026-12-10 19:00,,home,アリーナ\n", "4行目: 対戦相手が空です"),
        (CSV + "g1,2026-12-10 19:00,宇都宮,home,アリーナ\n", "4行目: 試合ID「g1」が2行目と重複しています"),
        (CSV + "g5,2026-12-10 19:00,宇都宮\n", "4行目: 列の数が見出しと合いません"),
        # The first data row, and a row after a quoted cell that spans two lines.
        (CSV.replace("g1,2026-12-01 19:00", "g1,2026-13-01 19:00"), "2行目: 開始日時"),
        (CSV + 'g6,2026-12-10 19:00,宇都宮,home,"第1\n会場"\ng7,x,宇都宮,home,y\n', "6行目: 開始日時「x」"),
        (CSV + 'g6,x,宇都宮,home,"第1\n会場"\n', "4行目: 開始日時「x」"),
        ("key,opponent\n", "列 tipoff, home_away がありません"),
        ("key,tipoff,opponent,home_away,venue\n", "試合が1件もありません"),
        ("", "ファイルが空です"),
    ],
)
def test_a_bad_row_names_its_line_and_nothing_is_read(text: str, message: str) -> None:
    with pytest.raises(GameError, match=message):
        parse_games_csv(text)


def test_an_ics_event_that_cannot_be_a_game_is_refused_with_its_line() -> None:
    bad = ICS.replace(b"SUMMARY:@ ", b"SUMMARY:")
    with pytest.raises(GameError, match="10行目（2件目の予定）: 題名"):
        parse_games_ics(bad)
    with pytest.raises(GameError, match="10行目（2件目の予定）: UID がありません"):
        parse_games_ics(ICS.replace(b"UID:game-1205@team.example\n", b""))
    with pytest.raises(GameError, match="4行目（1件目の予定）: DTSTART（開始日時）がないか、読めません"):
        parse_games_ics(ICS.replace(b"DTSTART:20261201T100000Z", b"DTSTART:someday"))
    with pytest.raises(GameError, match="4行目（1件目の予定）: 終日の予定"):
        parse_games_ics(ICS.replace(b"DTSTART:20261201T100000Z", b"DTSTART;VALUE=DATE:20261201"))
    with pytest.raises(GameError, match="iCalendar"):
        parse_games_ics(b"not a calendar")
    with pytest.raises(GameError, match="試合が1件もありません"):
        parse_games_ics(b"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//x//y//JA\nEND:VCALENDAR\n")


def test_a_moved_ics_event_updates_its_game_by_uid(db_session: Session) -> None:
    import_games(db_session, parse_games_ics(ICS), NOW)
    moved = ICS.replace(b"DTSTART:20261201T100000Z", b"DTSTART:20261202T090000Z")
    assert import_games(db_session, parse_games_ics(moved), NOW) == ImportResult(0, 1)
    db_session.commit()
    assert _keys(db_session)[0] == ("game-1201@team.example", "秋田", True, "12-02 18:00")
    assert len(_keys(db_session)) == 2


def test_final_needs_a_readable_score_and_a_started_game(db_session: Session) -> None:
    import_games(db_session, parse_games_csv(CSV), NOW)
    later = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)
    with pytest.raises(GameError, match="まだ始まっていません"):
        mark_final(db_session, "g1", "85-79", NOW)
    for score in ("85:79", "85-", "a-b", "1000-1"):
        with pytest.raises(GameError, match="スコア"):
            mark_final(db_session, "g1", score, later)
    game = mark_final(db_session, "g1", "85－79", later)
    assert (game.state, game.our_score, game.their_score, game.result) == ("final", 85, 79, "win")
    assert game.ended_at == later
    with pytest.raises(GameError, match="見つかりません"):
        mark_final(db_session, "nope", "1-0", later)
    with pytest.raises(GameError, match="終了しているため"):
        postpone(db_session, "g1", later)


def test_postponed_games_leave_the_upcoming_list_until_they_get_a_new_date(db_session: Session) -> None:
    import_games(db_session, parse_games_csv(CSV), NOW)
    assert [g.key for g in upcoming_home_games(db_session, NOW)] == ["g1"]
    postpone(db_session, str(db_session.scalars(select(Game.id).where(Game.key == "g1")).one()), NOW)
    assert upcoming_home_games(db_session, NOW) == []
    assert next_game(db_session, NOW).key == "g2"  # type: ignore[union-attr]
    import_games(db_session, parse_games_csv(CSV.replace("2026-12-01 19:00", "2026-12-08 19:00")), NOW)
    assert [g.key for g in upcoming_home_games(db_session, NOW)] == ["g1"]


def test_the_demo_season_has_a_game_on_now_past_results_and_weekends_to_come(db_session: Session) -> None:
    from data.demo import settle_past_demo_games

    rows = demo_season(NOW)  # Saturday 2026-11-28, 21:30 in Tokyo
    (today,) = [r for r in rows if r.key.endswith("-today")]
    assert today.home and NOW - timedelta(hours=2) < today.tipoff_at < NOW
    assert sum(1 for r in rows if r.tipoff_at > NOW and r.home) >= 5
    assert len({r.key for r in rows}) == len(rows)
    import_games(db_session, rows, NOW)
    assert settle_past_demo_games(db_session, NOW) == sum(
        1 for r in rows if r.tipoff_at < NOW - timedelta(hours=3)
    )
    past = db_session.scalars(select(Game).where(Game.tipoff_at < NOW - timedelta(hours=3))).all()
    assert past and all(g.state == "final" and g.post_game_state == "done" and g.our_score for g in past)
    assert db_session.scalars(select(Game.state).where(Game.key == today.key)).one() == "scheduled"
    assert settle_past_demo_games(db_session, NOW) == 0


def test_a_long_number_is_looked_up_as_a_key_not_an_id(db_session: Session) -> None:
    import_games(db_session, parse_games_csv(CSV.replace("g1,", "20261201190000000000,")), NOW)
    game = postpone(db_session, "20261201190000000000", NOW)
    assert game.state == "postponed"
    with pytest.raises(GameError, match="見つかりません"):
        postpone(db_session, "99999999999999999999", NOW)


def _run(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(games, list(args), env={"DATABASE_URL": database_url})


def test_games_commands(
    database_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert "試合はまだ登録されていません" in _run(database_url, "list").output
    schedule = tmp_path / "schedule.csv"
    schedule.write_text(CSV.replace("2026-12-01 19:00", "2026-11-01 19:00"), encoding="cp932")
    imported = _run(database_url, "import", str(schedule))
    assert imported.exit_code == 0, imported.output
    assert "2 試合を追加、0 試合を更新しました" in imported.output
    again = _run(database_url, "import", str(schedule))
    assert "0 試合を追加、0 試合を更新しました" in again.output
    calendar = tmp_path / "team.ics"
    calendar.write_bytes(ICS)
    assert "2 試合を追加" in _run(database_url, "import", str(calendar)).output
    final = _run(database_url, "final", "g1", "--score", "85-79")
    assert final.exit_code == 0 and "85-79" in final.output
    listed = _run(database_url, "list").output
    assert "g1\t2026-11-01 19:00\tホーム\tvs 秋田ノーザンハピネッツ" in listed and "終了 85-79" in listed
    # 10:00 UTC is 19:00 in Tokyo.
    assert "game-1201@team.example\t2026-12-01 19:00\tホーム\tvs 秋田" in listed
    assert _run(database_url, "postpone", "g2").exit_code == 0
    with Session(engine) as session:
        assert session.scalars(select(Game.state).where(Game.key == "g2")).one() == "postponed"
        assert session.scalar(select(func.count()).select_from(Game)) == 4


@pytest.mark.parametrize("bad_line", [2, 3, 5])
def test_a_bad_row_anywhere_in_the_file_stores_nothing(
    database_url: str, engine: Engine, tmp_path: Path, bad_line: int
) -> None:
    schedule = tmp_path / "schedule.csv"
    schedule.write_text(CSV, encoding="utf-8")
    assert _run(database_url, "import", str(schedule)).exit_code == 0
    # A new date for g1, a new game g3, a new venue for g2 ... and one unreadable line.
    rows = [
        "key,tipoff,opponent,home_away,venue",
        "g1,2026-12-02 19:00,秋田ノーザンハピネッツ,home,みちのくアリーナ",
        "g3,2026-12-09 19:00,宇都宮ブレックス,home,みちのくアリーナ",
        "g2,2026-12-05T15:05:00+09:00,仙台89ERS,away,カメイアリーナ仙台",
        "g4,2026-12-12 18:05,千葉ジェッツ,away,LaLa arena TOKYO-BAY",
    ]
    rows[bad_line - 1] = rows[bad_line - 1].replace(",home,", ",neutral,").replace(",away,", ",neutral,")
    update = tmp_path / "update.csv"
    update.write_text("\n".join(rows) + "\n", encoding="utf-8")
    refused = _run(database_url, "import", str(update))
    assert refused.exit_code == 1
    assert f"update.csv: {bad_line}行目: ホーム/アウェイ「neutral」" in refused.output
    assert "何も取り込んでいません" in refused.output
    with Session(engine) as session:
        assert _keys(session) == [
            ("g1", "秋田ノーザンハピネッツ", True, "12-01 19:00"),
            ("g2", "仙台89ERS", False, "12-05 15:05"),
        ]
        assert session.scalars(select(Game.venue).where(Game.key == "g2")).one() == "ゼビオアリーナ仙台"


def test_final_with_a_bad_score_is_refused_and_changes_nothing(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    schedule = tmp_path / "schedule.csv"
    schedule.write_text(CSV.replace("2026-12-01 19:00", "2026-11-01 19:00"), encoding="utf-8")
    assert _run(database_url, "import", str(schedule)).exit_code == 0
    refused = _run(database_url, "final", "g1", "--score", "85対79")
    assert refused.exit_code == 1 and "スコア「85対79」が読めません" in refused.output
    assert _run(database_url, "final", "g9", "--score", "85-79").exit_code == 1
    with Session(engine) as session:
        game = session.scalars(select(Game).where(Game.key == "g1")).one()
        assert (game.state, game.our_score, game.their_score, game.ended_at) == (
            "scheduled",
            None,
            None,
            None,
        )
