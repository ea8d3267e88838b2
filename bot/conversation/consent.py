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

DECLINED_TEXT = "承知しました。気が変わったら「同意」と送ってください。"


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
    turn.reply(messages.text(turn.settings.greeting), consent_question(turn))


def unfollow(turn: Turn) -> None:
    fan = turn.find_fan()
    if fan is None:
        return
    fan.is_following = False
    fan.unfollowed_at = turn.now


def agree(turn: Turn, fan: Fan | None, after_consent: list[AfterConsent]) -> None:
    """Record consent to the current text (the button and the typed 「同意」 both land here)."""
    version = turn.settings.consent_version
    if fan is None:
        # A friend the bot has no record of (befriended before fanbot ran, or deleted
        # their data) registers by agreeing; only a friend can talk to the account.
        fan = Fan(line_user_id=turn.user_id, source="line", created_at=turn.now, is_following=True)
        turn.session.add(fan)
    if has_current_consent(fan, version):
        turn.reply(messages.text("すでに同意いただいています。ありがとうございます！"))
        return
    fan.consented_at = turn.now
    fan.consent_version = version
    fan.consent_declined_at = None
    turn.session.flush()
    turn.reply(messages.text("ご同意ありがとうございます！"))
    for hook in after_consent:
        hook(turn, fan)


def make_consent_handler(after_consent: list[AfterConsent]) -> Callable[[Turn, Postback], None]:
    def on_consent(turn: Turn, postback: Postback) -> None:
        answer, version = postback.args
        fan = turn.find_fan()
        if version != turn.settings.consent_version:
            turn.reply(messages.text("同意の内容が更新されました。お手数ですが、もう一度ご確認ください。"))
            turn.reply(consent_question(turn))
            return
        if answer == "yes":
            agree(turn, fan, after_consent)
        elif answer == "no":
            if fan is not None:
                fan.consent_declined_at = turn.now
            turn.reply(messages.text(DECLINED_TEXT))
        else:
            turn.reply(messages.text("このボタンは使えません。もう一度お試しください。"))

    return on_consent


def make_typed_consent_handler(after_consent: list[AfterConsent]) -> Callable[[Turn, str], None]:
    def on_typed(turn: Turn, _text: str) -> None:
        """「同意」 typed, as the decline message invites: consent to the text the fan was shown.

        Only a fan who was shown the current text can agree by typing: one the bot has no
        record of, or who agreed to an older version, sees the text (with its buttons) first.
        """
        fan = turn.find_fan()
        current = turn.settings.consent_version
        if fan is not None and has_current_consent(fan, current):
            turn.reply(messages.text("すでに同意いただいています。ありがとうございます！"))
            return
        if fan is None or fan.consented_at is not None:
            turn.reply(consent_question(turn))
            return
        agree(turn, fan, after_consent)

    return on_typed


def register(dispatcher: Dispatcher, after_consent: list[AfterConsent]) -> None:
    dispatcher.follow.append(follow)
    dispatcher.unfollow.append(unfollow)
    dispatcher.postbacks["consent"] = make_consent_handler(after_consent)
    dispatcher.on_keyword("同意", "同意する", "同意します")(make_typed_consent_handler(after_consent))
