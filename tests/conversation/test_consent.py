"""Following, consenting and unfollowing, and what a fan without consent can and cannot do."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import update

from bot.postback import encode
from bot.settings import CONSENT_VERSION
from data.consent import has_current_consent, is_reachable
from data.models import Fan
from tests.conftest import FrozenClock
from tests.conversation.conftest import Store, button_labels, consented_fan, last, tap
from tests.line_driver import LineDriver, postback_data, quick_replies, texts


def test_follow_creates_a_fan_and_asks_for_consent(
    line: LineDriver, store: Store, clock: FrozenClock
) -> None:
    user = line.new_fan()
    replies = line.follow(user)
    assert texts(replies)[0] == "友だち追加ありがとうございます！テストスパークス公式アカウントです。"
    assert button_labels(last(replies)) == ["同意する", "今はしない"]
    fan = store.fan(user)
    assert fan is not None
    assert fan.is_following and fan.followed_at == clock() and not has_current_consent(fan, CONSENT_VERSION)
    assert store.rounds(user) == []


def test_consent_is_stored_with_version_and_time(line: LineDriver, store: Store, clock: FrozenClock) -> None:
    user, replies = consented_fan(line)
    fan = store.fan(user)
    assert fan is not None
    assert fan.consented_at == clock() and fan.consent_version == "2026-11"
    assert is_reachable(fan, CONSENT_VERSION)
    assert len(replies) == 3 and "【Q1/5】" in texts(replies)[2]


def test_declining_consent_asks_no_question(line: LineDriver, store: Store, clock: FrozenClock) -> None:
    user = line.new_fan()
    replies = tap(line, user, last(line.follow(user)), "今はしない")
    assert texts(replies) == ["承知しました。気が変わったら「同意」と送ってください。"]
    fan = store.fan(user)
    assert (
        fan is not None
        and fan.consent_declined_at == clock()
        and not has_current_consent(fan, CONSENT_VERSION)
    )
    assert store.rounds(user) == []


def test_fan_without_consent_is_asked_to_consent_before_any_question(line: LineDriver, store: Store) -> None:
    user = line.new_fan()
    line.follow(user)
    for replies in (line.text(user, "アンケート"), line.postback(user, encode("survey"))):
        assert texts(replies)[0] == "ご利用の前に、アンケートとクーポン配信への同意をお願いします。"
        assert button_labels(last(replies)) == ["同意する", "今はしない"]
    assert store.rounds(user) == []


def test_nothing_a_fan_without_consent_sends_is_stored_as_an_answer(line: LineDriver, store: Store) -> None:
    # A fan who consented, then a second one who did not, tapping the first one's buttons.
    fan_user, replies = consented_fan(line)
    round_id = str(store.rounds(fan_user)[-1].id)
    item = store.rounds(fan_user)[-1].current_item_id
    assert item is not None
    stranger = line.new_fan()
    line.follow(stranger)
    replies = line.postback(stranger, encode("answer", item, "1", round_id))
    assert "同意をお願いします" in texts(replies)[0]
    line.postback(stranger, encode("skip", item, round_id))
    line.postback(stranger, encode("change", item))
    line.text(stranger, "はい")
    line.text(stranger, "3")
    assert store.answers(stranger) == {} and store.answers(fan_user) == {}


def test_consent_button_of_an_old_consent_text_asks_again(line: LineDriver, store: Store) -> None:
    user = line.new_fan()
    line.follow(user)
    replies = line.postback(user, encode("consent", "yes", "2020-01"))
    assert texts(replies)[0] == "同意の内容が更新されました。お手数ですが、もう一度ご確認ください。"
    fan = store.fan(user)
    assert fan is not None and not has_current_consent(fan, CONSENT_VERSION)


def test_consenting_twice_starts_no_second_round(line: LineDriver, store: Store) -> None:
    user = line.new_fan()
    consent = last(line.follow(user))
    line.postback(user, postback_data(consent, "同意する"))
    replies = tap(line, user, consent, "同意する")
    assert texts(replies)[0] == "すでに同意いただいています。ありがとうございます！"
    # The round opened by the first agreement is offered again, not replaced.
    assert texts(replies)[1] == "アンケートの途中です（1/5問目）。続きに答えますか？"
    assert len(store.rounds(user)) == 1


@pytest.mark.parametrize("typed", ["同意", "同意する", "　同意します　"])
def test_declined_fan_consents_by_typing_as_the_decline_message_says(
    line: LineDriver, store: Store, clock: FrozenClock, typed: str
) -> None:
    user = line.new_fan()
    declined = tap(line, user, last(line.follow(user)), "今はしない")
    assert "「同意」と送ってください" in texts(declined)[0]
    clock.advance(minutes=5)
    replies = line.text(user, typed)
    assert texts(replies)[0] == "ご同意ありがとうございます！"
    assert "【Q1/5】" in texts(replies)[-1]
    fan = store.fan(user)
    assert fan is not None and has_current_consent(fan, CONSENT_VERSION) and fan.consent_declined_at is None
    # The same record as the button: the version in force, at the time of typing.
    assert fan.consent_version == CONSENT_VERSION and fan.consented_at == clock()


def test_typed_consent_from_someone_never_shown_the_text_shows_it_first(
    line: LineDriver, store: Store
) -> None:
    user = stranger(line)
    replies = line.text(user, "同意")
    assert "同意しますか" in texts(replies)[-1]
    assert store.fan(user) is None


def test_typed_consent_after_agreeing_to_an_older_text_shows_the_new_one(
    line: LineDriver, store: Store, app: Flask
) -> None:
    user = line.new_fan()
    tap(line, user, last(line.follow(user)), "同意する")
    with app.extensions["fanbot.db"].transaction() as db:
        db.execute(update(Fan).where(Fan.line_user_id == user).values(consent_version="2020-01"))
    replies = line.text(user, "同意")
    assert "同意しますか" in texts(replies)[-1]
    fan = store.fan(user)
    assert fan is not None and fan.consent_version == "2020-01"


def test_unfollow_stops_pushes_and_refollow_welcomes_back(
    line: LineDriver, fan_id: str, store: Store, clock: FrozenClock
) -> None:
    assert line.unfollow(fan_id).status_code == 200
    fan = store.fan(fan_id)
    assert fan is not None and not fan.is_following and fan.unfollowed_at == clock()
    assert not is_reachable(fan, CONSENT_VERSION)
    clock.advance(days=3)
    replies = line.follow(fan_id)
    assert texts(replies) == ["おかえりなさい！またよろしくお願いします。試合後のクーポンをお楽しみに。"]
    fan = store.fan(fan_id)
    assert fan is not None and fan.is_following and is_reachable(fan, CONSENT_VERSION)


def stranger(line: LineDriver) -> str:
    """A LINE friend fanbot has no record of (befriended before the bot ran, or deleted their data)."""
    user = line.new_fan()
    line.state.set_following(user, True)
    return user


def test_friend_unknown_to_the_bot_registers_by_agreeing(line: LineDriver, store: Store) -> None:
    user = stranger(line)
    replies = line.text(user, "こんにちは")
    assert store.fan(user) is None
    assert "同意しますか" in texts(replies)[-1]
    replies = line.postback(user, postback_data(replies[-1], "同意する"))
    assert "ご同意ありがとうございます" in texts(replies)[0]
    fan = store.fan(user)
    assert fan is not None and fan.consented_at is not None and fan.is_following


def test_friend_unknown_to_the_bot_who_declines_leaves_no_record(line: LineDriver, store: Store) -> None:
    user = stranger(line)
    replies = line.postback(user, encode("consent", "no", "2026-11"))
    assert texts(replies) == ["承知しました。気が変わったら「同意」と送ってください。"]
    assert store.fan(user) is None


def test_help_for_someone_unknown_asks_for_consent_and_stores_nothing(line: LineDriver, store: Store) -> None:
    user = stranger(line)
    replies = line.text(user, "こんにちは")
    assert texts(replies)[0].startswith("ご利用いただけるキーワードです。")
    assert texts(replies)[1] == (
        "こんにちは！テストスパークス公式アカウントです。ご利用の前に、下の内容をご確認ください。"
    )
    assert [a["label"] for a in quick_replies(replies[-1])] == ["同意する", "今はしない"]
    assert store.fan(user) is None


def test_help_for_a_fan_without_consent_offers_the_consent_buttons(line: LineDriver) -> None:
    user = line.new_fan()
    line.follow(user)
    replies = line.text(user, "ヘルプ")
    assert "・回答変更" in texts(replies)[0]
    assert button_labels(last(replies)) == ["同意する", "今はしない"]
