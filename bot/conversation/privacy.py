"""Fans stay in control: stop and resume pushes, delete their data.

Replies to a fan's own messages keep working after an opt-out; only pushes stop
(`data.consent.is_reachable`). Deletion asks first, then leaves nothing that points
back to the person.
"""

from __future__ import annotations

from bot import messages
from bot.conversation.consent import consent_question
from bot.conversation.help import reply_unknown
from bot.dispatch import Dispatcher, Turn
from bot.postback import Postback, encode
from coupons.redeem import forget_fan
from coupons.visits import forget_visits
from data.consent import has_current_consent
from data.privacy import delete_fan_data

OPT_OUT_KEYWORD = "配信停止"
OPT_IN_KEYWORD = "配信再開"
DELETE_KEYWORD = "データ削除"
CONFIRM_DELETE_LABEL = "はい、削除する"
CANCEL_DELETE_LABEL = "やめる"


def opt_out(turn: Turn, _text: str) -> None:
    fan = turn.find_fan()
    if fan is None:
        reply_unknown(turn)
        return
    if fan.opted_out_at is not None:
        turn.reply(
            messages.text(
                "すでに配信を停止しています。再開するときは「配信再開」と送ってください。",
                [messages.message_button(OPT_IN_KEYWORD)],
            )
        )
        return
    fan.opted_out_at = turn.now
    turn.reply(
        messages.text(
            "配信を停止しました。クーポンやお知らせはもう届きません。\n"
            "アンケートなど、このトークでのやりとりはこれまでどおりご利用いただけます。\n"
            "再開するときは「配信再開」と送ってください。",
            [messages.message_button(OPT_IN_KEYWORD)],
        )
    )


def opt_in(turn: Turn, _text: str) -> None:
    fan = turn.find_fan()
    if fan is None:
        reply_unknown(turn)
        return
    if fan.opted_out_at is None:
        turn.reply(messages.text("配信は停止していません。試合後のクーポンをお楽しみに！"))
    else:
        fan.opted_out_at = None
        turn.reply(messages.text("配信を再開しました。試合後のクーポンをお楽しみに！"))
    if not has_current_consent(fan, turn.settings.consent_version):
        # Pushes also need consent; without it, resuming alone delivers nothing.
        turn.reply(consent_question(turn))


def ask_delete(turn: Turn, _text: str) -> None:
    fan = turn.find_fan()
    if fan is None:
        turn.reply(
            messages.text("削除するデータはありません。このアカウントには、あなたの登録がありません。")
        )
        return
    turn.reply(
        messages.text(
            "アンケートの回答と、あなたを識別できるデータをすべて削除します。\n"
            "削除すると元に戻せず、クーポンも届かなくなります。削除しますか？",
            [
                messages.postback_button(CONFIRM_DELETE_LABEL, encode("delete", "yes"), CONFIRM_DELETE_LABEL),
                messages.postback_button(CANCEL_DELETE_LABEL, encode("delete", "no"), CANCEL_DELETE_LABEL),
            ],
        )
    )


def on_delete(turn: Turn, postback: Postback) -> None:
    (answer,) = postback.args
    fan = turn.find_fan()
    if fan is None:
        turn.reply(messages.text("データはすでに削除されているか、登録がありません。"))
        return
    if answer == "yes":
        fan_id = fan.id
        deletion = delete_fan_data(turn.session, fan, turn.now)
        forget_visits(turn.session, fan.id)
        # Same transaction: the fan's unused coupons stop working, counts stay anonymous.
        forget_fan(turn.session, fan_id)
        turn.reply(
            messages.text(
                f"データを削除しました（アンケートの回答{deletion.answers}件を含みます）。"
                "ご利用ありがとうございました。\n"
                "またご利用になるときは、いつでもメッセージを送ってください。"
            )
        )
    elif answer == "no":
        turn.reply(messages.text("削除をやめました。データはそのままです。"))
    else:
        turn.reply(messages.text("申し訳ありません、このボタンは現在ご利用いただけません。"))


def register(dispatcher: Dispatcher) -> None:
    dispatcher.on_keyword(OPT_OUT_KEYWORD)(opt_out)
    dispatcher.on_keyword(OPT_IN_KEYWORD)(opt_in)
    dispatcher.on_keyword(DELETE_KEYWORD, "データを削除")(ask_delete)
    dispatcher.on_postback("delete")(on_delete)
