"""The platform's limits around sending: the monthly quota, retry keys that expire after 24 hours,
and multicast's own rate limit and recipient cap."""

from __future__ import annotations

import calendar
import json
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from line_emulator import EmulatorState, create_emulator_app
from line_emulator.api import MONTHLY_LIMIT, quota_month
from line_emulator.config import EmulatorConfig
from line_emulator.store import restore, snapshot
from tests.line_emulator.test_api import AUTH, TEXT, FrozenClock, make_app, push

MULTICAST = "/v2/bot/message/multicast"
DAY = 24 * 60 * 60


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return float(calendar.timegm((year, month, day, hour, minute, 0)))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def app(clock: FrozenClock) -> Flask:
    return make_app(clock, message_quota=3)


def fans(state: EmulatorState, count: int, *, following: bool = True) -> list[str]:
    users = [state.create_user(f"ファン{i}").user_id for i in range(count)]
    for user in users:
        state.set_following(user, following)
    return users


def multicast(client: FlaskClient, to: list[str], retry_key: str | None = None) -> Any:
    headers = {**AUTH, **({"X-Line-Retry-Key": retry_key} if retry_key else {})}
    return client.post(MULTICAST, json={"to": to, "messages": [TEXT]}, headers=headers)


def usage(client: FlaskClient) -> int:
    body = client.get("/v2/bot/message/quota/consumption", headers=AUTH).json
    assert body is not None
    return int(body["totalUsage"])


# -- the monthly quota ---------------------------------------------------------------------


def test_a_push_past_the_monthly_quota_is_refused_with_lines_message(
    client: FlaskClient, state: EmulatorState
) -> None:
    users = fans(state, 4)

    statuses = [push(client, user, [TEXT]).status_code for user in users]
    refused = push(client, users[3], [TEXT])

    assert statuses == [200, 200, 200, 429]
    assert refused.json == {"message": MONTHLY_LIMIT}
    assert state.messages_for(users[3]) == []
    assert usage(client) == 3


def test_a_refused_send_does_not_use_its_retry_key(client: FlaskClient, state: EmulatorState) -> None:
    users = fans(state, 4)
    for user in users[:3]:
        push(client, user, [TEXT])
    key = str(uuid.uuid4())
    assert push(client, users[3], [TEXT], retry_key=key).status_code == 429

    state.set_message_quota(10)  # e.g. the plan was upgraded

    assert push(client, users[3], [TEXT], retry_key=key).status_code == 200
    assert state.messages_for(users[3]) == [TEXT]


def test_multicast_counts_one_message_per_recipient_it_reaches(
    client: FlaskClient, state: EmulatorState
) -> None:
    reached = fans(state, 2)
    blocked = fans(state, 1, following=False)

    assert multicast(client, [*reached, *blocked]).status_code == 200

    assert usage(client) == 2


def test_multicast_that_does_not_fit_in_the_quota_is_refused_whole(
    client: FlaskClient, state: EmulatorState
) -> None:
    users = fans(state, 4)
    push(client, users[0], [TEXT])

    response = multicast(client, users[1:])  # 3 more, 2 left

    assert response.status_code == 429
    assert response.json == {"message": MONTHLY_LIMIT}
    assert [state.messages_for(user) for user in users[1:]] == [[], [], []]
    assert usage(client) == 1


def test_the_quota_starts_over_at_midnight_japan_time_on_the_first(
    clock: FrozenClock, client: FlaskClient, state: EmulatorState
) -> None:
    users = fans(state, 4)
    clock.now = utc(2026, 11, 30, 14, 59)  # 23:59 on 30 November in Tokyo
    for user in users[:3]:
        push(client, user, [TEXT])
    assert push(client, users[3], [TEXT]).status_code == 429

    clock.now = utc(2026, 11, 30, 15, 0)  # 00:00 on 1 December in Tokyo

    assert usage(client) == 0
    assert push(client, users[3], [TEXT]).status_code == 200
    assert usage(client) == 1


def test_quota_month_is_counted_in_japan_time() -> None:
    assert quota_month(utc(2026, 11, 30, 14, 59)) == "2026-11"
    assert quota_month(utc(2026, 11, 30, 15, 0)) == "2026-12"


def test_a_plan_without_a_limit_says_none_and_never_refuses(clock: FrozenClock) -> None:
    app = make_app(clock, message_quota=None)
    state: EmulatorState = app.extensions["line_emulator"]
    client = app.test_client()
    users = fans(state, 2)

    assert client.get("/v2/bot/message/quota", headers=AUTH).json == {"type": "none"}
    assert multicast(client, users).status_code == 200
    assert usage(client) == 2


# -- retry keys expire after 24 hours ------------------------------------------------------


def test_a_retry_key_is_remembered_for_24_hours_then_forgotten(
    clock: FrozenClock, client: FlaskClient, state: EmulatorState
) -> None:
    (user,) = fans(state, 1)
    key = str(uuid.uuid4())
    assert push(client, user, [TEXT], retry_key=key).status_code == 200

    clock.now += DAY - 1
    within = push(client, user, [TEXT], retry_key=key)
    clock.now += 1
    after = push(client, user, [TEXT], retry_key=key)

    assert within.status_code == 409
    assert after.status_code == 200
    # After expiry the same key is a new request: LINE delivers it again.
    assert state.messages_for(user) == [TEXT, TEXT]


def test_the_retry_key_lifetime_is_configurable(clock: FrozenClock) -> None:
    app = make_app(clock, retry_key_ttl_seconds=60)
    state: EmulatorState = app.extensions["line_emulator"]
    client = app.test_client()
    (user,) = fans(state, 1)
    key = str(uuid.uuid4())
    multicast(client, [user], retry_key=key)

    clock.now += 60

    assert multicast(client, [user], retry_key=key).status_code == 200


def test_acceptance_times_and_the_usage_month_survive_a_restart(
    clock: FrozenClock, client: FlaskClient, state: EmulatorState
) -> None:
    (user,) = fans(state, 1)
    key = str(uuid.uuid4())
    push(client, user, [TEXT], retry_key=key)
    saved = json.loads(json.dumps(snapshot(state)))

    restarted = create_emulator_app(
        EmulatorConfig(
            channel_secret="s", channel_access_token="test-access-token", webhook_url="x", clock=clock
        )
    )
    restored: EmulatorState = restarted.extensions["line_emulator"]
    restore(restored, saved)
    again = restarted.test_client()

    assert push(again, user, [TEXT], retry_key=key).status_code == 409
    assert usage(again) == 1
    clock.now += DAY
    assert push(again, user, [TEXT], retry_key=key).status_code == 200


# -- multicast limits ----------------------------------------------------------------------


def test_multicast_has_its_own_rate_limit(clock: FrozenClock) -> None:
    app = make_app(clock, multicast_rate_limit_per_second=2, push_rate_limit_per_second=100)
    state: EmulatorState = app.extensions["line_emulator"]
    client = app.test_client()
    (user,) = fans(state, 1)

    statuses = [multicast(client, [user]).status_code for _ in range(3)]
    pushed = push(client, user, [TEXT]).status_code
    clock.now += 0.5
    refilled = multicast(client, [user]).status_code

    assert statuses == [200, 200, 429]
    assert pushed == 200
    assert refilled == 200


def test_the_push_rate_limit_leaves_multicast_alone(clock: FrozenClock) -> None:
    app = make_app(clock, push_rate_limit_per_second=1, message_quota=None)
    state: EmulatorState = app.extensions["line_emulator"]
    client = app.test_client()
    (user,) = fans(state, 1)

    assert [multicast(client, [user]).status_code for _ in range(3)] == [200, 200, 200]
    assert [push(client, user, [TEXT]).status_code for _ in range(2)] == [200, 429]


def test_multicast_to_500_recipients_is_accepted_and_501_refused(clock: FrozenClock) -> None:
    app = make_app(clock, message_quota=None)
    state: EmulatorState = app.extensions["line_emulator"]
    client = app.test_client()
    users = fans(state, 501)

    refused = multicast(client, users)
    accepted = multicast(client, users[:500])

    assert refused.status_code == 400
    assert accepted.status_code == 200
    assert sum(len(state.messages_for(user)) for user in users) == 500


def test_multicast_to_nobody_is_refused_and_counts_nothing(clock: FrozenClock) -> None:
    app = make_app(clock, message_quota=None)
    client = app.test_client()

    refused = multicast(client, [])

    assert refused.status_code == 400
    assert refused.json is not None and refused.json["details"][0]["property"] == "to"
    assert usage(client) == 0


def test_the_command_line_sets_the_sending_limits() -> None:
    from line_emulator.__main__ import parse_config

    limited, _, _ = parse_config(["--push-rate-limit", "2000", "--multicast-rate-limit", "200"])
    unlimited, _, _ = parse_config(["--monthly-quota", "0"])

    assert (limited.push_rate_limit_per_second, limited.multicast_rate_limit_per_second) == (2000, 200)
    assert limited.message_quota == 1000
    assert unlimited.message_quota is None


# -- an answer that never comes back in time ------------------------------------------------


def test_a_stalled_answer_times_out_yet_the_request_was_accepted(clock: FrozenClock) -> None:
    import urllib.error
    import urllib.request

    from line_emulator.server import EmulatorServer

    app = make_app(clock)
    state: EmulatorState = app.extensions["line_emulator"]
    (user,) = fans(state, 1)
    key = str(uuid.uuid4())
    body = json.dumps({"to": user, "messages": [TEXT]}).encode()

    def post() -> int:
        request = urllib.request.Request(
            server.base_url + "/v2/bot/message/push",
            data=body,
            headers={**AUTH, "Content-Type": "application/json", "X-Line-Retry-Key": key},
        )
        try:
            with urllib.request.urlopen(request, timeout=0.3) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    with EmulatorServer(app) as server:
        release = state.inject_stall("/v2/bot/message/push")
        with pytest.raises(TimeoutError):
            post()
        release.set()
        retried = post()

    assert retried == 409
    assert state.messages_for(user) == [TEXT]
