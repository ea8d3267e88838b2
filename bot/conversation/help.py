"""Replies for text the bot does not understand, for taps it cannot accept, and for strangers."""

from __future__ import annotations

from bot import messages
from bot.conversation.consent import consent_question
from bot.dispatch import Dispatcher, Turn
from data.consent import has_current_consent

HELP_TEXT = (
    "ご利用いただけるキーワードです。\n"
    "・アンケート：アンケートに答える（途中からの続きも）\n"
    "・今日はここまで：アンケートを中断する\n"
    "・回答変更：答えた内容を変更する\n"
    "・マイクーポン：お持ちのクーポンを見る\n"
    "・試合日程：今後のホームゲームを見る\n"
    "・設定：配信停止・データ削除などの設定\n"
    "・配信停止／配信再開：お知らせの受け取りを止める／再開する\n"
    "・データ削除：あなたのデータをすべて削除する"
)


def unknown_text(turn: Turn) -> str:
    """For someone with no fan record: a friend from before fanbot ran, or someone who deleted
    their data. The bot cannot tell the two apart (deletion leaves nothing that points back to
    the person), so it greets both without 「はじめまして」. Nothing is stored until they agree."""
    return f"こんにちは！{turn.settings.account_name}です。ご利用の前に、下の内容をご確認ください。"


NEEDS_CONSENT_TEXT = "ご利用の前に、アンケートとクーポン配信への同意をお願いします。"


def reply_unknown(turn: Turn) -> None:
    turn.reply(messages.text(unknown_text(turn)), consent_question(turn))


def ask_for_consent(turn: Turn) -> None:
    turn.reply(messages.text(NEEDS_CONSENT_TEXT), consent_question(turn))


def help_reply(turn: Turn, _text: str) -> None:
    fan = turn.find_fan()
    turn.reply(messages.text(HELP_TEXT))
    if fan is None:
        reply_unknown(turn)
    elif not has_current_consent(fan, turn.settings.consent_version):
        turn.reply(consent_question(turn))


def bad_postback(turn: Turn, _data: str) -> None:
    turn.reply(messages.text("申し訳ありません、このボタンは現在ご利用いただけません。"))


def register(dispatcher: Dispatcher) -> None:
    dispatcher.fallback_text = help_reply
    dispatcher.bad_postback = bad_postback
    dispatcher.on_keyword("ヘルプ", "help", "使い方")(help_reply)
