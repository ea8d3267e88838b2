"""Following, consent and unfollowing.

Nothing a fan says is used for targeting before they agree to the current
consent text; the version they agreed to is stored with the time. The rule itself
(what "current" means, whom pushes reach) is `data.consent`.
"""

from __future__ import annotations

from collections.abc import Callable

from linebot.v3.messaging import TextMessage

from bot import messages
from bot.dispatch import Dispatcher, Turn
from bot.postback import Postback, encode
from data.consent import has_current_consent
from data.models import Fan

CONSENT_TEXT = (
    "このアカウントでは、アンケートの回答をもとに、試合後に地域のパートナー店舗で使えるクーポンをお届けします。\n"
    "回答は統計分析とクーポンの配信先を選ぶためだけに使い、いつでも「配信停止」「データ削除」ができます。\n"
    "アンケートとクーポン配信に同意しますか？"
)

# Called after a fan agrees, so the survey can start its first round in the same reply.
AfterConsent = Callable[[Turn, Fan], None]


def consent_question(turn: Turn) -> TextMessage:
    version = turn.settings.consent_version
    return messages.text(
        CONSENT_TEXT,
        [
            messages.postback_button("同意する", encode("consent", "yes", version), "同意する"),
            messages.postback_button("今はしない", encode("consent", "no", version), "今はしない"),
        ],
    )


def follow(turn: Turn) -> None:
    fan = turn.find_fan()
    returning = fan is not None
    if fan is None:
        fan = Fan(line_user_id=turn.user_id, source="line", created_at=turn.now)
        turn.session.add(fan)
    fan.is_following = True
    fan.followed_at = turn.now
    turn.session.flush()
    if returning and has_current_consent(fan, turn.settings.consent_version):
        turn.reply(messages.text("おかえりなさい！またよろしくお願いします。試合後のクーポンをお楽しみに。"))
        return
    turn.reply(
        messages.text("友だち追加ありがとうございます！チームの公式アカウントです。"),
        consent_question(turn),
    )


def unfollow(turn: Turn) -> None:
    fan = turn.find_fan()
    if fan is None:
        return
    fan.is_following = False
    fan.unfollowed_at = turn.now


def make_consent_handler(after_consent: list[AfterConsent]) -> Callable[[Turn, Postback], None]:
    def on_consent(turn: Turn, postback: Postback) -> None:
        answer, version = postback.args
        fan = turn.find_fan()
        if version != turn.settings.consent_version:
            turn.reply(messages.text("同意の内容が更新されました。お手数ですが、もう一度ご確認ください。"))
            turn.reply(consent_question(turn))
            return
        if fan is None:
            if answer != "yes":
                turn.reply(messages.text("承知しました。気が変わったら「同意」と送ってください。"))
                return
            # A friend the bot has no record of (befriended before fanbot ran, or deleted
            # their data) registers by agreeing; only a friend can talk to the account.
            fan = Fan(line_user_id=turn.user_id, source="line", created_at=turn.now, is_following=True)
            turn.session.add(fan)
        if answer == "yes":
            if has_current_consent(fan, version):
                turn.reply(messages.text("すでに同意いただいています。ありがとうございます！"))
                return
            fan.consented_at = turn.now
            fan.consent_version = version
            fan.consent_declined_at = None
            turn.reply(messages.text("ご同意ありがとうございます！"))
            for hook in after_consent:
                hook(turn, fan)
        elif answer == "no":
            fan.consent_declined_at = turn.now
            turn.reply(
                messages.text(
                    "承知しました。気が変わったら「同意」と送ってください。",
                )
            )
        else:
            turn.reply(messages.text("このボタンは使えません。もう一度お試しください。"))

    return on_consent


def ask_again(turn: Turn, _text: str) -> None:
    fan = turn.find_fan()
    if fan is not None and has_current_consent(fan, turn.settings.consent_version):
        turn.reply(messages.text("すでに同意いただいています。ありがとうございます！"))
        return
    turn.reply(consent_question(turn))


def register(dispatcher: Dispatcher, after_consent: list[AfterConsent]) -> None:
    dispatcher.follow.append(follow)
    dispatcher.unfollow.append(unfollow)
    dispatcher.postbacks["consent"] = make_consent_handler(after_consent)
    dispatcher.on_keyword("同意", "同意する")(ask_again)
