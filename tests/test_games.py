"""The schedule in the database: CSV and iCalendar import by stable key, results, postponements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (CSV + "g3,来週の土曜,宇都宮,home,アリーナ\n", "4行目: 開始日時「来週の土曜」が読めません"),
        (CSV + "g4,2026-12-10 19:00,宇都宮,neutral,アリーナ\n", "4行目: ホーム/アウェイ「neutral」"),
        (CSV + "g1,2026-12-10 19:00,宇都宮,home,アリーナ\n", "4行目: 試合ID「g1」が2行目と重複しています"),
        (CSV + "g5,2026-12-10 19:00,宇都宮\n", "4行目: 列の数が見出しと合いません"),
        (CSV + ",2026-12-10 19:00,宇都宮,home,アリーナ\n", "4行目: 試合ID（key）が空です"),
        ("key,opponent\n", "列 tipoff, home_away がありません"),
    ],
)
def test_a_bad_row_names_its_line_and_nothing_is_imported(
    db_session: Session, text: str, message: str
) -> None:
    with pytest.raises(GameError, match=message):
        import_games(db_session, parse_games_csv(text), NOW)
    assert db_session.scalars(select(Game)).all() == []


def test_an_ics_event_without_an_opponent_is_refused() -> None:
    bad = ICS.replace(b"SUMMARY:@ ", b"SUMMARY:")
    with pytest.raises(GameError, match="2件目の予定: 題名"):
        parse_games_ics(bad)
    with pytest.raises(GameError, match="iCalendar"):
        parse_games_ics(b"not a calendar")


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


def test_games_commands(
    database_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"DATABASE_URL": database_url}
    schedule = tmp_path / "schedule.csv"
    schedule.write_text(CSV.replace("2026-12-01 19:00", "2026-11-01 19:00"), encoding="cp932")
    imported = CliRunner().invoke(games, ["import", str(schedule)], env=env)
    assert imported.exit_code == 0, imported.output
    assert "2 試合を追加、0 試合を更新しました" in imported.output
    calendar = tmp_path / "team.ics"
    calendar.write_bytes(ICS)
    assert "2 試合を追加" in CliRunner().invoke(games, ["import", str(calendar)], env=env).output
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV + "g9,そのうち,宇都宮,home,アリーナ\n", encoding="utf-8")
    refused = CliRunner().invoke(games, ["import", str(bad)], env=env)
    assert refused.exit_code == 1 and "4行目" in refused.output and "何も取り込んでいません" in refused.output
    final = CliRunner().invoke(games, ["final", "g1", "--score", "85-79"], env=env)
    assert final.exit_code == 0 and "85-79" in final.output
    listed = CliRunner().invoke(games, ["list"], env=env).output
    assert "g1\t2026-11-01 19:00\tホーム\tvs 秋田ノーザンハピネッツ" in listed and "終了 85-79" in listed
    assert CliRunner().invoke(games, ["postpone", "g2"], env=env).exit_code == 0
    with Session(engine) as session:
        assert session.scalars(select(Game.state).where(Game.key == "g2")).one() == "postponed"
