"""試合日程: the next home games, typed in chat or from the rich menu's tile."""

from __future__ import annotations

from bot import messages
from bot.dispatch import Dispatcher, Turn
from bot.postback import Postback
from data.games import Game, upcoming_home_games

KEYWORDS = ("試合日程", "日程", "スケジュール")
WEEKDAYS = "月火水木金土日"
SCHEDULE_LIMIT = 5
NONE_SCHEDULED = "いまお知らせできるホームゲームの予定はありません。"


def format_game(game: Game) -> str:
    """One line pair per game, in Japan time: ``・12月5日（土）15:05`` then opponent and venue."""
    local = game.tipoff_tokyo
    day = f"{local.month}月{local.day}日（{WEEKDAYS[local.weekday()]}）{local:%H:%M}"
    venue = f"（{game.venue}）" if game.venue else ""
    return f"・{day}\n　vs {game.opponent}{venue}"


def show_schedule(turn: Turn) -> None:
    games = upcoming_home_games(turn.session, turn.now, SCHEDULE_LIMIT)
    if not games:
        turn.reply(messages.text(NONE_SCHEDULED))
        return
    lines = "\n".join(format_game(game) for game in games)
    turn.reply(messages.text(f"今後のホームゲームです（日本時間）。\n{lines}"))


def register(dispatcher: Dispatcher) -> None:
    def on_schedule(turn: Turn, _arg: Postback | str) -> None:
        show_schedule(turn)

    dispatcher.on_keyword(*KEYWORDS)(on_schedule)
    dispatcher.on_postback("schedule")(on_schedule)
