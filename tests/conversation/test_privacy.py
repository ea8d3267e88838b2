"""Opting out and back in, and deleting one's data from the chat."""

from __future__ import annotations

from typing import Any

from bot.postback import encode
from bot.settings import CONSENT_VERSION
from data.consent import has_current_consent, is_reachable
from data.privacy import DELETED_ANSWERS, DELETED_FANS
from tests.conftest import FrozenClock
from tests.conversation.conftest import Store, button_labels, consented_fan, last, tap
from tests.line_driver import LineDriver, postback_data, texts


def answer_two(line: LineDriver, user: str, replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    replies = tap(line, user, last(replies), button_labels(last(replies))[0])
    return tap(line, user, last(replies), button_labels(last(replies))[0])


def test_opt_out_stops_pushes_at_once_but_replies_still_work(
    line: LineDriver, fan_id: str, store: Store, clock: FrozenClock
) -> None:
    replies = line.text(fan_id, "配信停止")
    assert texts(replies)[0].startswith("配信を停止しました。")
    fan = store.fan(fan_id)
    assert fan is not None and fan.opted_out_at == clock() and not is_reachable(fan, CONSENT_VERSION)
    replies = line.text(fan_id, "アンケート")
    assert "【Q1/5】" in texts(replies)[-1]


def test_opting_out_twice_keeps_the_first_time(
    line: LineDriver, fan_id: str, store: Store, clock: FrozenClock
) -> None:
    line.text(fan_id, "配信停止")
    first = clock()
    clock.advance(minutes=5)
    replies = line.text(fan_id, "配信停止")
    assert texts(replies) == ["すでに配信を停止しています。再開するときは「配信再開」と送ってください。"]
    # The second time keeps the way back as a button, like the first.
    assert button_labels(last(replies)) == ["配信再開"]
    fan = store.fan(fan_id)
    assert fan is not None and fan.opted_out_at == first


def test_opt_in_resumes_pushes(line: LineDriver, fan_id: str, store: Store) -> None:
    line.text(fan_id, "配信停止")
    replies = line.text(fan_id, "配信再開")
    assert texts(replies)[0] == "配信を再開しました。試合後のクーポンをお楽しみに！"
    fan = store.fan(fan_id)
    assert fan is not None and fan.opted_out_at is None and is_reachable(fan, CONSENT_VERSION)
    replies = line.text(fan_id, "配信再開")
    assert texts(replies)[0] == "配信は停止していません。試合後のクーポンをお楽しみに！"


def test_opt_in_without_consent_also_asks_for_consent(line: LineDriver, store: Store) -> None:
    user = line.new_fan()
    line.follow(user)
    replies = line.text(user, "配信再開")
    assert button_labels(last(replies)) == ["同意する", "今はしない"]
    fan = store.fan(user)
    assert fan is not None and not is_reachable(fan, CONSENT_VERSION)


def test_delete_asks_for_confirmation_first(line: LineDriver, fan_id: str, store: Store) -> None:
    replies = line.text(fan_id, "データ削除")
    assert "削除しますか？" in texts(replies)[0]
    assert button_labels(last(replies)) == ["はい、削除する", "やめる"]
    fan = store.fan(fan_id)
    assert fan is not None and fan.deleted_at is None


def test_cancelling_deletion_keeps_everything(line: LineDriver, store: Store) -> None:
    user, replies = consented_fan(line)
    answer_two(line, user, replies)
    replies = tap(line, user, last(line.text(user, "データ削除")), "やめる")
    assert texts(replies)[0] == "削除をやめました。データはそのままです。"
    assert texts(replies)[1] == "アンケートの途中です（3/5問目）。続きに答えますか？"
    assert len(store.answers(user)) == 2


def test_confirmed_deletion_removes_answers_rounds_and_personal_data(
    line: LineDriver, store: Store, clock: FrozenClock
) -> None:
    user, replies = consented_fan(line)
    answer_two(line, user, replies)
    fan_before = store.fan(user)
    assert fan_before is not None
    replies = tap(line, user, last(line.text(user, "データ削除")), "はい、削除する")
    assert texts(replies)[0].startswith("データを削除しました（アンケートの回答2件を含みます）。")
    assert store.fan(user) is None
    skeleton = store.fan_by_id(fan_before.id)
    assert skeleton is not None
    assert skeleton.line_user_id is None and skeleton.display_name is None
    assert skeleton.consented_at is None and skeleton.consent_version is None
    assert skeleton.deleted_at == clock() and not is_reachable(skeleton, CONSENT_VERSION)
    assert store.answers_of_fan(fan_before.id) == 0
    assert store.rounds_of_fan(fan_before.id) == 0
    assert store.count(DELETED_FANS) == 1 and store.count(DELETED_ANSWERS) == 2


def test_taps_and_text_after_deletion_store_nothing(line: LineDriver, store: Store) -> None:
    user, replies = consented_fan(line)
    question = last(replies)
    confirm = last(line.text(user, "データ削除"))
    tap(line, user, confirm, "はい、削除する")
    fan_rows_before = store.count(DELETED_FANS)

    replies = tap(line, user, question, "はい")
    # Deletion left nothing to recognise the person by, so no 「はじめまして」 and no 「おかえり」.
    assert texts(replies)[0].startswith("こんにちは！テストスパークス公式アカウントです。")
    assert "はじめまして" not in "".join(texts(replies))
    for text in ("アンケート", "3", "はい", "配信停止", "回答変更", "設定", "マイクーポン"):
        line.text(user, text)
    line.postback(user, encode("survey"))
    line.postback(user, postback_data(question, "スキップ"))
    line.postback(user, encode("consent", "no", "2026-11"))
    replies = tap(line, user, confirm, "はい、削除する")
    assert texts(replies) == ["データはすでに削除されているか、登録がありません。"]
    replies = line.text(user, "データ削除")
    assert texts(replies)[0].startswith("削除するデータはありません。")

    assert store.fan(user) is None
    assert store.answers(user) == {} and store.rounds(user) == []
    assert store.count(DELETED_FANS) == fan_rows_before


def test_follow_after_deletion_starts_over_as_a_new_fan(line: LineDriver, store: Store) -> None:
    user, replies = consented_fan(line)
    answer_two(line, user, replies)
    old = store.fan(user)
    assert old is not None
    tap(line, user, last(line.text(user, "データ削除")), "はい、削除する")
    line.unfollow(user)
    replies = line.follow(user)
    assert button_labels(last(replies)) == ["同意する", "今はしない"]
    new = store.fan(user)
    assert new is not None and new.id != old.id and not has_current_consent(new, CONSENT_VERSION)
    assert store.answers(user) == {}
