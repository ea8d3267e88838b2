"""Check-in at a partner shop: a fan sends what the shop QR pre-fills; the bot records the visit."""

from __future__ import annotations

from bot import messages
from bot.conversation.help import ask_for_consent, reply_unknown
from bot.dispatch import Dispatcher, Turn
from coupons.visits import parse_checkin, record_visit
from data.consent import has_current_consent

UNKNOWN_CODE = (
    "このチェックインコードは見つかりませんでした。お手数ですが、お店のQRコードをもう一度読み取ってください。"
)


def checkin(turn: Turn, text: str) -> bool:
    code = parse_checkin(text)
    if code is None:
        return False
    turn.topics.add("checkin")
    fan = turn.find_fan()
    if fan is None:
        reply_unknown(turn)
        return True
    if not has_current_consent(fan, turn.settings.consent_version):
        # Visits are personal data like answers: nothing is stored before the fan agrees.
        turn.reply(
            messages.text(
                "ご来店ありがとうございます！来店の記録には、アンケートとクーポン配信への同意が必要です。"
            )
        )
        ask_for_consent(turn)
        return True
    result = record_visit(turn.session, fan.id, code, turn.now)
    if result is None:
        turn.reply(messages.text(UNKNOWN_CODE))
    elif result.recorded:
        turn.reply(
            messages.text(f"{result.partner_name}へのご来店ありがとうございます！来店を記録しました。")
        )
    else:
        turn.reply(
            messages.text(
                f"{result.partner_name}への本日のご来店は記録済みです。またのご来店をお待ちしています！"
            )
        )
    return True


def register(dispatcher: Dispatcher) -> None:
    # First among the text handlers: a scan mid-survey is a check-in, not a wrong answer.
    dispatcher.text_handlers.insert(0, checkin)
