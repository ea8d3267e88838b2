"""Rich-menu areas and their keywords: settings and my coupons (試合日程 has its own module, `schedule`)."""

from __future__ import annotations

from bot import messages
from bot.conversation.help import ask_for_consent, reply_unknown
from bot.conversation.privacy import DELETE_KEYWORD, OPT_IN_KEYWORD, OPT_OUT_KEYWORD
from bot.conversation.survey import CHANGE_KEYWORD
from bot.coupon_cards import coupon_carousel
from bot.dispatch import Dispatcher, Turn
from bot.postback import Postback
from coupons.wallet import usable_coupons
from data.consent import has_current_consent


def show_coupons(turn: Turn) -> None:
    fan = turn.find_fan()
    if fan is None:
        reply_unknown(turn)
        return
    if not has_current_consent(fan, turn.settings.consent_version):
        ask_for_consent(turn)
        return
    held = usable_coupons(turn.session, fan.id, turn.now)
    if not held:
        turn.reply(
            messages.text(
                "現在お持ちのクーポンはありません。\n"
                "試合のあとに、パートナー店舗で使えるクーポンをこのトークでお届けします。お楽しみに！"
            )
        )
        return
    intro = "お持ちのクーポンです（有効期限の近い順）。お店でスタッフに画面を見せてください。"
    turn.reply(messages.text(intro), coupon_carousel(held, turn.settings, turn.now))


def show_settings(turn: Turn) -> None:
    fan = turn.find_fan()
    if fan is None:
        reply_unknown(turn)
        return
    # Only what applies now: a fan receiving pushes can stop them, a stopped one resume them.
    if fan.opted_out_at is not None:
        status, toggle = "停止中", OPT_IN_KEYWORD
    else:
        status, toggle = "配信中", OPT_OUT_KEYWORD
    turn.reply(
        messages.text(
            f"設定メニューです（お知らせ：{status}）。ボタンを選んでください。",
            [
                messages.message_button(toggle),
                messages.message_button(CHANGE_KEYWORD),
                messages.message_button(DELETE_KEYWORD),
            ],
        )
    )


def register(dispatcher: Dispatcher) -> None:
    def on_coupons(turn: Turn, _arg: Postback | str) -> None:
        show_coupons(turn)

    def on_settings(turn: Turn, _arg: Postback | str) -> None:
        show_settings(turn)

    dispatcher.on_keyword("マイクーポン", "クーポン")(on_coupons)
    dispatcher.on_keyword("設定")(on_settings)
    dispatcher.on_postback("coupons")(on_coupons)
    dispatcher.on_postback("settings")(on_settings)
