"""The LINE client against the emulator: retry keys, and how every failure is classified."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from typing import Any

import pytest
from flask import Flask
from linebot.v3.messaging import FlexBox, FlexBubble, FlexMessage, FlexText, TextMessage

from bot.line_client import BulkLine, LineApiError, LineClient, SendResult, serialize_messages
from bot.settings import Settings
from line_emulator.server import EmulatorServer
from tests.conftest import RunningEmulator

PUSH = "/v2/bot/message/push"


@pytest.fixture
def fan(emulator: RunningEmulator) -> str:
    user = emulator.state.create_user("プッシュ先").user_id
    emulator.state.set_following(user, True)
    return user


def test_push_is_delivered_and_returns_the_request_id(
    line_client: LineClient, emulator: RunningEmulator, fan: str
) -> None:
    result = line_client.push(
        fan, [TextMessage(text="試合おつかれさまでした！")], retry_key=str(uuid.uuid4())
    )
    assert not result.already_accepted
    assert result.request_id
    assert [m["text"] for m in emulator.state.messages_for(fan)] == ["試合おつかれさまでした！"]


def test_repeated_retry_key_is_reported_as_already_accepted_and_not_delivered_twice(
    line_client: LineClient, emulator: RunningEmulator, fan: str
) -> None:
    key = str(uuid.uuid4())
    first = line_client.push(fan, [TextMessage(text="クーポンです")], retry_key=key)
    second = line_client.push(fan, [TextMessage(text="クーポンです")], retry_key=key)
    assert second.already_accepted
    assert second.request_id == first.request_id
    assert len(emulator.state.messages_for(fan)) == 1


def test_response_lost_after_acceptance_is_safe_to_retry(
    line_client: LineClient, emulator: RunningEmulator, fan: str
) -> None:
    emulator.state.inject_failures(PUSH, [500], after_accept=True)
    key = str(uuid.uuid4())
    with pytest.raises(LineApiError) as failure:
        line_client.push(fan, [TextMessage(text="一度だけ")], retry_key=key)
    assert failure.value.retryable
    retried = line_client.push(fan, [TextMessage(text="一度だけ")], retry_key=key)
    assert retried.already_accepted
    assert len(emulator.state.messages_for(fan)) == 1


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (429, True), (400, False)])
def test_api_errors_are_classified_for_retry(
    line_client: LineClient, emulator: RunningEmulator, fan: str, status: int, retryable: bool
) -> None:
    emulator.state.inject_failures(PUSH, [status])
    with pytest.raises(LineApiError) as failure:
        line_client.push(fan, [TextMessage(text="x")], retry_key=str(uuid.uuid4()))
    assert failure.value.status == status
    assert failure.value.retryable is retryable
    assert emulator.state.messages_for(fan) == []


def test_bad_request_is_a_permanent_error_with_the_platforms_reason(line_client: LineClient) -> None:
    with pytest.raises(LineApiError) as failure:
        line_client.push("not-a-user-id", [TextMessage(text="x")], retry_key=str(uuid.uuid4()))
    assert failure.value.status == 400
    assert not failure.value.retryable
    assert "to" in failure.value.message


def test_wrong_access_token_is_a_permanent_error(emulator: RunningEmulator, fan: str) -> None:
    client = LineClient(
        Settings(
            line_channel_secret="s", line_channel_access_token="wrong", line_api_base_url=emulator.base_url
        )
    )
    with pytest.raises(LineApiError) as failure:
        client.push(fan, [TextMessage(text="x")], retry_key=str(uuid.uuid4()))
    client.close()
    assert failure.value.status == 401
    assert not failure.value.retryable


def test_unreachable_api_is_a_retryable_transport_error() -> None:
    client = LineClient(
        Settings(
            line_channel_secret="s", line_channel_access_token="t", line_api_base_url="http://127.0.0.1:9"
        )
    )
    with pytest.raises(LineApiError) as failure:
        client.push("U" + "3" * 32, [TextMessage(text="x")], retry_key=str(uuid.uuid4()))
    client.close()
    assert failure.value.status is None
    assert failure.value.retryable


def test_api_that_does_not_answer_in_time_is_a_retryable_timeout() -> None:
    release, finished = threading.Event(), threading.Event()
    slow = Flask("slow")

    @slow.post("/v2/bot/message/push")
    def hang() -> str:
        release.wait(10)
        finished.set()
        return "{}"

    with EmulatorServer(slow) as server:
        client = LineClient(
            Settings(
                line_channel_secret="s",
                line_channel_access_token="t",
                line_api_base_url=server.base_url,
                line_timeout_seconds=0.2,
            )
        )
        with pytest.raises(LineApiError) as failure:
            client.push("U" + "3" * 32, [TextMessage(text="x")], retry_key=str(uuid.uuid4()))
        release.set()
        client.close()
        # The handler really ran to its end before the server stops (not a guessed pause).
        assert finished.wait(10)
    assert failure.value.status is None
    assert failure.value.retryable
    assert "timed out" in failure.value.message.lower() or "timeout" in failure.value.message.lower()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [('{"sentMessages": []}', "application/json"), ("<html><body>OK</body></html>", "text/html")],
)
@pytest.mark.parametrize("call", ["push", "reply"])
def test_a_success_answer_the_sdk_cannot_read_is_a_line_api_error(
    body: str, content_type: str, call: str
) -> None:
    odd = Flask("odd")

    @odd.post("/v2/bot/message/push")
    @odd.post("/v2/bot/message/reply")
    def answer() -> tuple[str, int, dict[str, str]]:
        return body, 200, {"Content-Type": content_type}

    with EmulatorServer(odd) as server:
        client = LineClient(
            Settings(
                line_channel_secret="s", line_channel_access_token="t", line_api_base_url=server.base_url
            )
        )
        with pytest.raises(LineApiError) as failure:
            if call == "push":
                client.push("U" + "3" * 32, [TextMessage(text="x")], retry_key=str(uuid.uuid4()))
            else:
                client.reply("r" * 32, [TextMessage(text="x")])
        client.close()
    assert "unreadable" in failure.value.message


def test_message_quota_reports_limit_use_and_what_remains(
    line_client: LineClient, emulator: RunningEmulator, fan: str
) -> None:
    emulator.state.message_quota = 500
    line_client.push(fan, [TextMessage(text="一通目")], retry_key=str(uuid.uuid4()))
    quota = line_client.message_quota()
    assert quota.limit == 500
    assert quota.used == 1
    assert quota.remaining == 499


def test_basic_id_comes_from_the_bot_info(line_client: LineClient) -> None:
    assert line_client.basic_id().startswith("@")


# -- multicast, and the sender's fast path ---------------------------------------------------


@pytest.fixture
def fans(emulator: RunningEmulator) -> list[str]:
    users = [emulator.state.create_user(f"ファン{i}").user_id for i in range(3)]
    for user in users:
        emulator.state.set_following(user, True)
    return users


def test_multicast_reaches_every_fan_once_under_its_retry_key(
    line_client: LineClient, emulator: RunningEmulator, fans: list[str]
) -> None:
    key = str(uuid.uuid4())
    first = line_client.multicast(fans, [TextMessage(text="ご来場ありがとうございました")], retry_key=key)
    again = line_client.multicast(fans, [TextMessage(text="ご来場ありがとうございました")], retry_key=key)

    assert first.request_id and not first.already_accepted
    assert again.already_accepted and again.request_id == first.request_id
    assert [len(emulator.state.messages_for(f)) for f in fans] == [1, 1, 1]


def bulk_settings(emulator: RunningEmulator, timeout: float = 5.0) -> Settings:
    return Settings(
        line_channel_secret="s",
        line_channel_access_token="test-access-token",
        line_api_base_url=emulator.base_url,
        line_timeout_seconds=timeout,
    )


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_the_fast_path_sends_serialised_messages_exactly_as_the_sdk_built_them(
    emulator: RunningEmulator, fans: list[str]
) -> None:
    flex = FlexMessage(
        altText="クーポン",
        contents=FlexBubble(body=FlexBox(layout="vertical", contents=[FlexText(text="入浴料 100円引き")])),
    )
    payload = serialize_messages([TextMessage(text="試合おつかれさまでした！"), flex])
    key = str(uuid.uuid4())

    async def send() -> tuple[SendResult, SendResult, SendResult]:
        async with BulkLine(bulk_settings(emulator)) as line:
            pushed = await line.push(fans[0], payload, key)
            again = await line.push(fans[0], payload, key)
            multicast = await line.multicast(fans[1:], payload, str(uuid.uuid4()))
            return pushed, again, multicast

    pushed, again, multicast = run(send())

    assert pushed.request_id and not pushed.already_accepted
    assert again.already_accepted and again.request_id == pushed.request_id
    assert multicast.request_id
    expected = [{"type": "text", "text": "試合おつかれさまでした！"}, flex.to_dict()]
    assert json.loads(payload) == expected
    assert [emulator.state.messages_for(f) for f in fans] == [expected] * 3
    assert emulator.state.violations == []
    assert [r.headers["X-Line-Retry-Key"] for r in emulator.state.requests][:2] == [key, key]


@pytest.mark.parametrize(
    ("status", "retryable", "quota"), [(500, True, False), (429, True, False), (400, False, False)]
)
def test_the_fast_path_classifies_errors_like_the_sdk_path(
    emulator: RunningEmulator, fans: list[str], status: int, retryable: bool, quota: bool
) -> None:
    emulator.state.inject_failures(PUSH, [status])

    async def send() -> None:
        async with BulkLine(bulk_settings(emulator)) as line:
            await line.push(fans[0], serialize_messages([TextMessage(text="x")]), str(uuid.uuid4()))

    with pytest.raises(LineApiError) as failure:
        run(send())
    assert (failure.value.status, failure.value.retryable, failure.value.quota_exhausted) == (
        status,
        retryable,
        quota,
    )
    assert failure.value.rate_limited is (status == 429)


def test_the_monthly_limit_is_a_quota_stop_not_a_rate_limit(
    emulator: RunningEmulator, fans: list[str]
) -> None:
    emulator.state.set_message_quota(0)

    async def send() -> None:
        async with BulkLine(bulk_settings(emulator)) as line:
            await line.push(fans[0], serialize_messages([TextMessage(text="x")]), str(uuid.uuid4()))

    with pytest.raises(LineApiError) as failure:
        run(send())
    assert failure.value.status == 429
    assert failure.value.quota_exhausted and not failure.value.rate_limited
    assert not failure.value.retryable


def test_the_sdk_path_also_knows_the_monthly_limit(
    line_client: LineClient, emulator: RunningEmulator, fan: str
) -> None:
    emulator.state.set_message_quota(0)

    with pytest.raises(LineApiError) as failure:
        line_client.push(fan, [TextMessage(text="x")], retry_key=str(uuid.uuid4()))

    assert failure.value.quota_exhausted and not failure.value.retryable


def test_the_fast_path_times_out_as_a_retryable_transport_error(
    emulator: RunningEmulator, fans: list[str]
) -> None:
    release = emulator.state.inject_stall(PUSH)

    async def send() -> None:
        async with BulkLine(bulk_settings(emulator, timeout=0.3)) as line:
            await line.push(fans[0], serialize_messages([TextMessage(text="x")]), str(uuid.uuid4()))

    try:
        with pytest.raises(LineApiError) as failure:
            run(send())
    finally:
        release.set()
    assert failure.value.status is None and failure.value.retryable
    assert "timed out" in failure.value.message


@pytest.mark.parametrize("count", [0, 6])
def test_a_request_carries_one_to_five_messages(count: int) -> None:
    with pytest.raises(ValueError, match="1 to 5"):
        serialize_messages([TextMessage(text="x")] * count)
