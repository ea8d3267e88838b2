"""The fan's LINE display name: fetched through the LINE client once they consent, removed on deletion."""

from __future__ import annotations

from typing import Any

from tests.conversation.conftest import Store, consented_fan, last, tap
from tests.line_driver import LineDriver


def profile_calls(emulator_requests: Any, user: str) -> int:
    return sum(1 for r in emulator_requests() if r.path == f"/v2/bot/profile/{user}")


def test_consenting_stores_the_line_display_name(
    line: LineDriver, store: Store, emulator_requests: Any
) -> None:
    user, _ = consented_fan(line, "山田 花子")
    fan = store.fan(user)
    assert fan is not None and fan.display_name == "山田 花子"
    assert profile_calls(emulator_requests, user) == 1


def test_no_name_is_fetched_or_stored_without_consent(
    line: LineDriver, store: Store, emulator_requests: Any
) -> None:
    user = line.new_fan("佐藤 次郎")
    replies = line.follow(user)
    tap(line, user, last(replies), "今はしない")
    line.text(user, "こんにちは")
    fan = store.fan(user)
    assert fan is not None and fan.display_name is None
    assert profile_calls(emulator_requests, user) == 0


def test_a_failed_profile_call_loses_nothing_and_is_tried_again_later(
    line: LineDriver, store: Store, emulator_requests: Any
) -> None:
    user = line.new_fan("鈴木 三郎")
    replies = line.follow(user)
    line.state.inject_failures(f"/v2/bot/profile/{user}", [500])
    replies = tap(line, user, last(replies), "同意する")
    assert "ご同意ありがとうございます" in replies[0]["text"]
    fan = store.fan(user)
    assert fan is not None and fan.consented_at is not None and fan.display_name is None
    line.text(user, "マイクーポン")
    fan = store.fan(user)
    assert fan is not None and fan.display_name == "鈴木 三郎"
    line.text(user, "試合日程")
    assert profile_calls(emulator_requests, user) == 2  # once it is known, no more calls


def test_a_returning_friend_gets_their_new_name(line: LineDriver, store: Store) -> None:
    user, _ = consented_fan(line, "旧姓 花子")
    line.unfollow(user)
    line.state.get_user(user).display_name = "新姓 花子"  # type: ignore[union-attr]
    line.follow(user)
    fan = store.fan(user)
    assert fan is not None and fan.display_name == "新姓 花子"


def test_deletion_removes_the_display_name(line: LineDriver, store: Store) -> None:
    user, _ = consented_fan(line, "田中 四郎")
    fan = store.fan(user)
    assert fan is not None and fan.display_name == "田中 四郎"
    tap(line, user, last(line.text(user, "データ削除")), "はい、削除する")
    skeleton = store.fan_by_id(fan.id)
    assert skeleton is not None and skeleton.display_name is None
    line.text(user, "こんにちは")  # a stranger again: nothing is fetched for them
    skeleton = store.fan_by_id(fan.id)
    assert skeleton is not None and skeleton.display_name is None
