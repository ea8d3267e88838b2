"""Replies for text the bot does not understand and for taps it cannot accept."""

from __future__ import annotations

from bot import messages
from bot.conversation.consent import consent_question
from bot.dispatch import Dispatcher, Turn

HELP_TEXT = (
    "ご利用いただけるキーワードです。\n"
    "・アンケート：アンケートに答える\n"
    "・マイクーポン：お持ちのクーポンを見る\n"
    "・配信停止／配信再開：お知らせの受け取りを止める／再開する\n"
    "・データ削除：あなたのデータをすべて削除する"
)


def help_reply(turn: Turn, _text: str) -> None:
    fan = turn.find_fan()
    turn.reply(messages.text(HELP_TEXT))
    if fan is None or not fan.has_consented:
        turn.reply(consent_question(turn))


def bad_postback(turn: Turn, _data: str) -> None:
    turn.reply(messages.text("申し訳ありません、このボタンは現在ご利用いただけません。"))


def register(dispatcher: Dispatcher) -> None:
    dispatcher.fallback_text = help_reply
    dispatcher.bad_postback = bad_postback
    dispatcher.on_keyword("ヘルプ", "help", "使い方")(help_reply)
