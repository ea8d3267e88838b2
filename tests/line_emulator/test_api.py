"""The fake Messaging API answers like the LINE platform and records what it delivered."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    PushMessageRequest,
    ReplyMessageRequest,
    TextMessage,
)

from line_emulator import EmulatorConfig, EmulatorState, create_emulator_app
from line_emulator.contract import default_spec_dir
from line_emulator.server import EmulatorServer

TOKEN = "test-access-token"
SECRET = "test-channel-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TEXT = {"type": "text", "text": "こんにちは"}


class FrozenClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def make_app(clock: FrozenClock, **overrides: Any) -> Flask:
    settings: dict[str, Any] = {"spec_dir": default_spec_dir(), **overrides}
    config = EmulatorConfig(
        channel_secret=SECRET,
        channel_access_token=TOKEN,
        webhook_url="http://127.0.0.1:9/callback",
        clock=clock,
        **settings,
    )
    return create_emulator_app(config)


@pytest.fixture
def app(clock: FrozenClock) -> Flask:
    return make_app(clock)


@pytest.fixture
def fan(state: EmulatorState) -> str:
    user = state.create_user("山田 花子")
    state.set_following(user.user_id, True)
    return user.user_id


def push(client: FlaskClient, to: str, messages: list[dict[str, Any]], retry_key: str | None = None) -> Any:
    headers = dict(AUTH)
    if retry_key is not None:
        headers["X-Line-Retry-Key"] = retry_key
    return client.post("/v2/bot/message/push", json={"to": to, "messages": messages}, headers=headers)


def reply(client: FlaskClient, token: str, messages: list[dict[str, Any]]) -> Any:
    return client.post(
        "/v2/bot/message/reply", json={"replyToken": token, "messages": messages}, headers=AUTH
    )


# -- auth and errors --------------------------------------------------------------------


def test_wrong_access_token_is_refused_with_line_error_body(client: FlaskClient, fan: str) -> None:
    response = client.post(
        "/v2/bot/message/push",
        json={"to": fan, "messages": [TEXT]},
        headers={"Authorization": "Bearer nope"},
    )

    assert response.status_code == 401
    assert response.json is not None
    assert response.json["message"].startswith("Authentication failed")
    assert response.headers["x-line-request-id"]


def test_unknown_api_path_answers_line_json_404(client: FlaskClient) -> None:
    response = client.get("/v2/bot/nothing-here", headers=AUTH)

    assert response.status_code == 404
    assert response.json == {"message": "Not found"}


def test_every_request_is_recorded_with_its_status(
    client: FlaskClient, state: EmulatorState, fan: str
) -> None:
    push(client, fan, [TEXT])

    record = state.requests[-1]
    assert (record.method, record.path, record.status) == ("POST", "/v2/bot/message/push", 200)
    assert record.json == {"to": fan, "messages": [TEXT]}
    assert "Authorization" not in record.headers


# -- reply ------------------------------------------------------------------------------


def test_reply_delivers_to_the_token_owner(client: FlaskClient, state: EmulatorState, fan: str) -> None:
    token = state.issue_reply_token(fan, 1_700_000_000.0)

    response = reply(client, token, [TEXT])

    assert response.status_code == 200
    assert response.json is not None
    assert len(response.json["sentMessages"]) == 1
    assert state.messages_for(fan) == [TEXT]


def test_reply_token_is_single_use(client: FlaskClient, state: EmulatorState, fan: str) -> None:
    token = state.issue_reply_token(fan, 1_700_000_000.0)
    reply(client, token, [TEXT])

    again = reply(client, token, [TEXT])

    assert again.status_code == 400
    assert again.json == {"message": "Invalid reply token"}
    assert state.messages_for(fan) == [TEXT]


def test_reply_token_expires(client: FlaskClient, state: EmulatorState, clock: FrozenClock, fan: str) -> None:
    token = state.issue_reply_token(fan, clock.now)
    clock.now += 60.5

    response = reply(client, token, [TEXT])

    assert response.status_code == 400
    assert response.json == {"message": "Invalid reply token"}
    assert state.messages_for(fan) == []


def test_reply_token_is_still_valid_just_before_expiry(
    client: FlaskClient, state: EmulatorState, clock: FrozenClock, fan: str
) -> None:
    token = state.issue_reply_token(fan, clock.now)
    clock.now += 59.5

    assert reply(client, token, [TEXT]).status_code == 200


def test_reply_rejects_a_retry_key(client: FlaskClient, state: EmulatorState, fan: str) -> None:
    token = state.issue_reply_token(fan, 1_700_000_000.0)

    response = client.post(
        "/v2/bot/message/reply",
        json={"replyToken": token, "messages": [TEXT]},
        headers={**AUTH, "X-Line-Retry-Key": str(uuid.uuid4())},
    )

    assert response.status_code == 400
    assert state.messages_for(fan) == []


def test_more_than_five_messages_are_refused(client: FlaskClient, state: EmulatorState, fan: str) -> None:
    response = push(client, fan, [TEXT] * 6)

    assert response.status_code == 400
    assert response.json is not None
    assert response.json["details"] == [{"message": "Size must be at most 5", "property": "messages"}]
    assert state.messages_for(fan) == []


def test_invalid_message_is_refused_and_recorded_as_violation(
    client: FlaskClient, state: EmulatorState, fan: str
) -> None:
    response = push(client, fan, [{"type": "text"}])

    assert response.status_code == 400
    assert response.json is not None
    assert response.json["details"] == [
        {"message": "'text' is a required property", "property": "messages[0].text"}
    ]
    assert state.violations == ["POST /v2/bot/message/push: messages[0].text: 'text' is a required property"]
    assert state.messages_for(fan) == []


# -- push, multicast, retry keys ----------------------------------------------------------


def test_push_delivers_and_counts_usage(client: FlaskClient, state: EmulatorState, fan: str) -> None:
    response = push(client, fan, [TEXT, {"type": "text", "text": "2"}])

    assert response.status_code == 200
    assert response.json is not None
    assert [set(m) for m in response.json["sentMessages"]] == [{"id", "quoteToken"}] * 2
    assert state.messages_for(fan) == [TEXT, {"type": "text", "text": "2"}]
    assert client.get("/v2/bot/message/quota/consumption", headers=AUTH).json == {"totalUsage": 1}


def test_push_to_malformed_user_id_is_refused(client: FlaskClient) -> None:
    response = push(client, "not-a-user", [TEXT])

    assert response.status_code == 400
    assert response.json is not None
    assert "'to'" in response.json["message"]


def test_push_to_unknown_user_fails_to_send(client: FlaskClient) -> None:
    response = push(client, "U" + "9" * 32, [TEXT])

    assert response.status_code == 400
    assert response.json == {"message": "Failed to send messages"}


def test_push_to_a_fan_who_blocked_is_accepted_but_not_delivered(
    client: FlaskClient, state: EmulatorState, fan: str
) -> None:
    state.set_following(fan, False)

    response = push(client, fan, [TEXT])

    assert response.status_code == 200
    assert state.messages_for(fan) == []
    assert state.undelivered_for(fan) == [TEXT]


def test_repeated_retry_key_is_answered_409_and_not_delivered_twice(
    client: FlaskClient, state: EmulatorState, fan: str
) -> None:
    key = str(uuid.uuid4())
    first = push(client, fan, [TEXT], retry_key=key)

    second = push(client, fan, [TEXT], retry_key=key)

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert second.headers["x-line-request-id"] != first.headers["x-line-request-id"]
    assert second.json is not None and first.json is not None
    assert second.json == {
        "message": "The retry key is already accepted",
        "sentMessages": first.json["sentMessages"],
    }
    assert state.messages_for(fan) == [TEXT]


def test_retry_key_must_be_a_uuid(client: FlaskClient, state: EmulatorState, fan: str) -> None:
    response = push(client, fan, [TEXT], retry_key="not-a-uuid")

    assert response.status_code == 400
    assert state.messages_for(fan) == []


def test_refused_request_does_not_consume_its_retry_key(client: FlaskClient, state: EmulatorState) -> None:
    key = str(uuid.uuid4())
    unknown = "U" + "8" * 32
    assert push(client, unknown, [TEXT], retry_key=key).status_code == 400
    user = state.create_user("後から", user_id=unknown)
    state.set_following(user.user_id, True)

    assert push(client, unknown, [TEXT], retry_key=key).status_code == 200
    assert state.messages_for(unknown) == [TEXT]


def test_injected_failures_answer_without_delivering(
    client: FlaskClient, state: EmulatorState, fan: str
) -> None:
    state.inject_failures("/v2/bot/message/push", [500, 503, 429])
    key = str(uuid.uuid4())

    statuses = [push(client, fan, [TEXT], retry_key=key).status_code for _ in range(4)]

    assert statuses == [500, 503, 429, 200]
    assert state.messages_for(fan) == [TEXT]


def test_failure_after_accept_delivers_once_and_the_retry_gets_409(
    client: FlaskClient, state: EmulatorState, fan: str
) -> None:
    state.inject_failures("/v2/bot/message/push", [500], after_accept=True)
    key = str(uuid.uuid4())

    first = push(client, fan, [TEXT], retry_key=key)
    retry = push(client, fan, [TEXT], retry_key=key)

    assert (first.status_code, retry.status_code) == (500, 409)
    assert retry.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert state.messages_for(fan) == [TEXT]


def test_push_rate_limit_answers_429(clock: FrozenClock) -> None:
    app = make_app(clock, push_rate_limit_per_second=2)
    state: EmulatorState = app.extensions["line_emulator"]
    user = state.create_user("a")
    state.set_following(user.user_id, True)
    client = app.test_client()

    statuses = [push(client, user.user_id, [TEXT]).status_code for _ in range(3)]
    clock.now += 1.0
    later = push(client, user.user_id, [TEXT])

    assert statuses == [200, 200, 429]
    assert later.status_code == 200
    assert state.messages_for(user.user_id) == [TEXT] * 3
    assert state.requests[2].status == 429


def test_rate_limited_answer_has_line_body(clock: FrozenClock) -> None:
    app = make_app(clock, push_rate_limit_per_second=1)
    state: EmulatorState = app.extensions["line_emulator"]
    user = state.create_user("a")
    state.set_following(user.user_id, True)
    client = app.test_client()
    push(client, user.user_id, [TEXT])

    response = push(client, user.user_id, [TEXT])

    assert response.json == {"message": "The API rate limit has been exceeded. Try again later."}


def test_multicast_delivers_to_following_fans_only(
    client: FlaskClient, state: EmulatorState, fan: str
) -> None:
    blocked = state.create_user("ブロック中").user_id

    response = client.post(
        "/v2/bot/message/multicast", json={"to": [fan, blocked], "messages": [TEXT]}, headers=AUTH
    )

    assert response.status_code == 200
    assert response.json == {}
    assert state.messages_for(fan) == [TEXT]
    assert state.messages_for(blocked) == []


def test_multicast_over_500_recipients_is_refused(
    client: FlaskClient, state: EmulatorState, fan: str
) -> None:
    response = client.post(
        "/v2/bot/message/multicast", json={"to": [fan] * 501, "messages": [TEXT]}, headers=AUTH
    )

    assert response.status_code == 400
    assert state.messages_for(fan) == []


def test_multicast_repeated_retry_key_is_409(client: FlaskClient, state: EmulatorState, fan: str) -> None:
    key = str(uuid.uuid4())
    body = {"to": [fan], "messages": [TEXT]}
    first = client.post("/v2/bot/message/multicast", json=body, headers={**AUTH, "X-Line-Retry-Key": key})

    second = client.post("/v2/bot/message/multicast", json=body, headers={**AUTH, "X-Line-Retry-Key": key})

    assert second.status_code == 409
    assert second.json == {"message": "The retry key is already accepted"}
    assert second.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert state.messages_for(fan) == [TEXT]


# -- profile, quota, loading --------------------------------------------------------------


def test_profile_of_a_friend(client: FlaskClient, fan: str) -> None:
    response = client.get(f"/v2/bot/profile/{fan}", headers=AUTH)

    assert response.json == {"displayName": "山田 花子", "userId": fan, "language": "ja"}


def test_profile_of_unknown_or_blocked_fan_is_404(
    client: FlaskClient, state: EmulatorState, fan: str
) -> None:
    state.set_following(fan, False)

    assert client.get(f"/v2/bot/profile/{fan}", headers=AUTH).status_code == 404
    assert client.get("/v2/bot/profile/U" + "7" * 32, headers=AUTH).status_code == 404


def test_quota_is_limited(client: FlaskClient) -> None:
    assert client.get("/v2/bot/message/quota", headers=AUTH).json == {"type": "limited", "value": 1000}


def test_loading_animation_is_accepted_for_multiples_of_five(
    client: FlaskClient, state: EmulatorState, fan: str
) -> None:
    accepted = client.post(
        "/v2/bot/chat/loading/start", json={"chatId": fan, "loadingSeconds": 10}, headers=AUTH
    )
    refused = client.post(
        "/v2/bot/chat/loading/start", json={"chatId": fan, "loadingSeconds": 7}, headers=AUTH
    )

    assert (accepted.status_code, accepted.json) == (202, {})
    assert refused.status_code == 400
    assert [(a.chat_id, a.loading_seconds) for a in state.loading_animations] == [(fan, 10)]


# -- rich menus ---------------------------------------------------------------------------

RICH_MENU = {
    "size": {"width": 2500, "height": 843},
    "selected": True,
    "name": "main",
    "chatBarText": "メニュー",
    "areas": [
        {
            "bounds": {"x": 0, "y": 0, "width": 1250, "height": 843},
            "action": {"type": "postback", "label": "アンケート", "data": "v1:survey"},
        }
    ],
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def test_rich_menu_lifecycle(client: FlaskClient, state: EmulatorState, fan: str) -> None:
    created = client.post("/v2/bot/richmenu", json=RICH_MENU, headers=AUTH)
    assert created.json is not None
    menu_id = created.json["richMenuId"]

    not_yet = client.post(f"/v2/bot/user/all/richmenu/{menu_id}", headers=AUTH)
    upload = client.post(
        f"/v2/bot/richmenu/{menu_id}/content", data=PNG, headers={**AUTH, "Content-Type": "image/png"}
    )
    default = client.post(f"/v2/bot/user/all/richmenu/{menu_id}", headers=AUTH)

    assert not_yet.status_code == 400
    assert (upload.status_code, default.status_code) == (200, 200)
    assert client.get("/v2/bot/user/all/richmenu", headers=AUTH).json == {"richMenuId": menu_id}
    assert client.get(f"/v2/bot/richmenu/{menu_id}/content", headers=AUTH).data == PNG
    listed = client.get("/v2/bot/richmenu/list", headers=AUTH).json
    assert listed is not None
    assert [m["richMenuId"] for m in listed["richmenus"]] == [menu_id]
    menu = state.rich_menu_for(fan)
    assert menu is not None and menu.rich_menu_id == menu_id

    assert client.delete("/v2/bot/user/all/richmenu", headers=AUTH).status_code == 200
    assert client.get("/v2/bot/user/all/richmenu", headers=AUTH).status_code == 404
    assert client.delete(f"/v2/bot/richmenu/{menu_id}", headers=AUTH).status_code == 200
    assert client.get(f"/v2/bot/richmenu/{menu_id}", headers=AUTH).status_code == 404


def test_rich_menu_linked_to_a_user_wins_over_default(
    client: FlaskClient, state: EmulatorState, fan: str
) -> None:
    ids = []
    for _ in range(2):
        created = client.post("/v2/bot/richmenu", json=RICH_MENU, headers=AUTH)
        assert created.json is not None
        ids.append(created.json["richMenuId"])
        client.post(
            f"/v2/bot/richmenu/{ids[-1]}/content", data=PNG, headers={**AUTH, "Content-Type": "image/png"}
        )
    client.post(f"/v2/bot/user/all/richmenu/{ids[0]}", headers=AUTH)

    linked = client.post(f"/v2/bot/user/{fan}/richmenu/{ids[1]}", headers=AUTH)

    assert linked.status_code == 200
    assert client.get(f"/v2/bot/user/{fan}/richmenu", headers=AUTH).json == {"richMenuId": ids[1]}
    menu = state.rich_menu_for(fan)
    assert menu is not None and menu.rich_menu_id == ids[1]


def test_rich_menu_with_a_bad_size_is_refused(client: FlaskClient, state: EmulatorState) -> None:
    response = client.post(
        "/v2/bot/richmenu/validate", json={**RICH_MENU, "size": {"width": 100, "height": 100}}, headers=AUTH
    )

    assert response.status_code == 400
    assert state.rich_menus == {}


# -- the real SDK over HTTP ---------------------------------------------------------------


@pytest.fixture
def served(app: Flask) -> Iterator[EmulatorServer]:
    with EmulatorServer(app) as server:
        yield server


@pytest.fixture
def sdk(served: EmulatorServer) -> Iterator[MessagingApi]:
    config = Configuration(host=served.base_url, access_token=TOKEN)
    with ApiClient(config) as api_client:
        yield MessagingApi(api_client)


def test_sdk_reply_and_push_are_wire_compatible(sdk: MessagingApi, state: EmulatorState, fan: str) -> None:
    token = state.issue_reply_token(fan, 1_700_000_000.0)

    replied = sdk.reply_message(ReplyMessageRequest(replyToken=token, messages=[TextMessage(text="返信")]))
    pushed = sdk.push_message(PushMessageRequest(to=fan, messages=[TextMessage(text="プッシュ")]))

    assert len(replied.sent_messages) == 1
    assert len(pushed.sent_messages) == 1
    assert [m["text"] for m in state.messages_for(fan)] == ["返信", "プッシュ"]
    assert state.violations == []


def test_sdk_push_with_repeated_retry_key_raises_409_with_accepted_request_id(
    sdk: MessagingApi, state: EmulatorState, fan: str
) -> None:
    key = str(uuid.uuid4())
    request = PushMessageRequest(to=fan, messages=[TextMessage(text="一度だけ")])
    first = sdk.push_message_with_http_info(request, x_line_retry_key=key)

    with pytest.raises(ApiException) as raised:
        sdk.push_message_with_http_info(request, x_line_retry_key=key)

    assert first.status_code == 200
    assert first.headers is not None
    assert raised.value.status == 409
    assert raised.value.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert [m["text"] for m in state.messages_for(fan)] == ["一度だけ"]


def test_sdk_reply_with_used_token_raises_400(sdk: MessagingApi, state: EmulatorState, fan: str) -> None:
    token = state.issue_reply_token(fan, 1_700_000_000.0)
    request = ReplyMessageRequest(replyToken=token, messages=[TextMessage(text="a")])
    sdk.reply_message(request)

    with pytest.raises(ApiException) as raised:
        sdk.reply_message(request)

    assert raised.value.status == 400
    assert "Invalid reply token" in raised.value.body


# -- Content-Type -----------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_json_api_called_with_another_content_type_is_refused_and_recorded(
    client: FlaskClient, state: EmulatorState, fan: str, content_type: str | None
) -> None:
    headers = dict(AUTH)
    if content_type is not None:
        headers["Content-Type"] = content_type
    body = json.dumps({"to": fan, "messages": [{"type": "text"}]})

    response = client.post("/v2/bot/message/push", data=body, headers=headers)

    assert response.status_code == 415
    assert state.messages_for(fan) == []
    assert len(state.violations) == 1 and "not JSON" in state.violations[0]


def test_a_charset_parameter_on_json_is_still_json_and_still_validated(
    client: FlaskClient, state: EmulatorState, fan: str
) -> None:
    headers = {**AUTH, "Content-Type": "application/json; charset=utf-8"}

    ok = client.post(
        "/v2/bot/message/push", data=json.dumps({"to": fan, "messages": [TEXT]}), headers=headers
    )
    bad = client.post(
        "/v2/bot/message/push", data=json.dumps({"to": fan, "messages": [{"type": "text"}]}), headers=headers
    )

    assert ok.status_code == 200
    assert bad.status_code == 400
    assert state.messages_for(fan) == [TEXT]


def test_a_json_api_called_without_a_body_is_refused_by_the_contract(
    client: FlaskClient, state: EmulatorState
) -> None:
    response = client.post("/v2/bot/message/push", headers={**AUTH, "Content-Type": "application/json"})

    assert response.status_code == 400
    assert any("requires a JSON body" in v for v in state.violations)
