"""試合日程, typed or tapped: the next home games in Japan time, or a plain word that there are none."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from bot.postback import encode
from data.games import import_games, parse_games_csv, postpone
from tests.conftest import FrozenClock
from tests.line_driver import LineDriver, texts

SEASON = """key,tipoff,opponent,home_away,venue
g-1205,2026-12-05 15:05,秋田ノーザンハピネッツ,home,みちのくアリーナ
g-1206,2026-12-06 14:05,秋田ノーザンハピネッツ,home,みちのくアリーナ
g-1212,2026-12-12 15:05,仙台89ERS,away,ゼビオアリーナ仙台
g-1219,2026-12-19 15:05,千葉ジェッツ,home,みちのくアリーナ
g-1220,2026-12-20 14:05,千葉ジェッツ,home,みちのくアリーナ
g-1226,2026-12-26 15:05,琉球ゴールデンキングス,home,みちのくアリーナ
g-1227,2026-12-27 14:05,琉球ゴールデンキングス,home,みちのくアリーナ
"""


@pytest.fixture
def season(session: Session, clock: FrozenClock) -> None:
    import_games(session, parse_games_csv(SEASON), clock())
    session.commit()


@pytest.mark.parametrize("how", ["postback", "keyword"])
def test_schedule_lists_the_next_home_games_in_tokyo_time(
    line: LineDriver, fan_id: str, how: str, season: None
) -> None:
    replies = (
        line.postback(fan_id, encode("schedule")) if how == "postback" else line.text(fan_id, "試合日程")
    )
    text = texts(replies)[0]
    assert text.startswith("今後のホームゲームです（日本時間）。")
    assert "・12月5日（土）15:05\n　vs 秋田ノーザンハピネッツ（みちのくアリーナ）" in text
    assert text.count("・") == 5
    assert "仙台89ERS" not in text  # an away game
    assert "12月27日" not in text


def test_schedule_leaves_out_games_that_started_and_postponed_ones(
    line: LineDriver, fan_id: str, clock: FrozenClock, season: None, session: Session
) -> None:
    postpone(session, "g-1219", clock())
    session.commit()
    clock.current = datetime(2026, 12, 5, 6, 10, tzinfo=UTC)  # 15:10 in Tokyo, the game is on
    (text,) = texts(line.text(fan_id, "試合日程"))
    assert "12月5日" not in text and "12月6日（日）14:05" in text
    assert "12月19日" not in text and "12月20日" in text


def test_schedule_without_games_to_come_says_there_is_none(
    line: LineDriver, fan_id: str, clock: FrozenClock, season: None
) -> None:
    clock.current = datetime(2027, 1, 1, tzinfo=UTC)
    assert texts(line.text(fan_id, "試合日程")) == ["いまお知らせできるホームゲームの予定はありません。"]


def test_a_game_at_ten_utc_is_shown_at_seven_in_the_evening(
    line: LineDriver, fan_id: str, session: Session, clock: FrozenClock
) -> None:
    text = "key,tipoff,opponent,home_away,venue\ng1,2026-12-01T10:00Z,宇都宮ブレックス,home,\n"
    import_games(session, parse_games_csv(text), clock())
    session.commit()
    reply = texts(line.text(fan_id, "試合日程"))[0]
    # Without a venue the line ends with the opponent (no empty brackets).
    assert reply == "今後のホームゲームです（日本時間）。\n・12月1日（火）19:00\n　vs 宇都宮ブレックス"
