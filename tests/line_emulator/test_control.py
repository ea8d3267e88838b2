"""Fan actions on the chat page become signed, spec-conforming webhooks to the bot."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from linebot.v3 import WebhookParser
from linebot.v3.webhooks import FollowEvent, MessageEvent, PostbackEvent, UnfollowEvent
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from line_emulator import EmulatorConfig, EmulatorState, create_emulator_app
from line_emulator.contract import default_spec_dir, load_contract
from line_emulator.server import EmulatorServer

SECRET = "control-secret"
TOKEN = "control-token"


@dataclass
class Received:
    bodies: list[bytes] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)
    status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self, index: int = -1) -> list[dict[str, Any]]:
        return list(json.loads(self.bodies[index])["events"])


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
def bot_server(received: Received) -> Iterator[EmulatorServer]:
    bot = Flask("recording_bot")

    @bot.post("/callback")
    def callback() -> tuple[str, int]:
        with received.lock:
            received.bodies.append(request.get_data())
            received.signatures.append(request.headers.get("X-Line-Signature", ""))
        return "OK", received.status

    with EmulatorServer(bot) as server:
        yield server


@pytest.fixture
def app(bot_server: EmulatorServer) -> Iterator[Flask]:
    config = EmulatorConfig(
        channel_secret=SECRET,
        channel_access_token=TOKEN,
        webhook_url=bot_server.base_url + "/callback",
        spec_dir=default_spec_dir(),
    )
    app = create_emulator_app(config)
    yield app
    app.extensions["line_emulator_sender"].close()


@pytest.fixture
def fan_id(client: FlaskClient) -> str:
    response = client.post("/api/users", json={"displayName": "佐藤"})
    assert response.json is not None
    return str(response.json["user"]["userId"])


def parse(received: Received, index: int = -1) -> list[Any]:
    return list(
        WebhookParser(SECRET).parse(received.bodies[index].decode("utf-8"), received.signatures[index])
    )


def test_chat_page_is_served_with_japanese_chrome(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)

    assert "新しいファンを作る" in page
    assert "友だち追加" in page and "ブロック" in page and "最後のイベントを再送" in page
    assert 'src="/static/chat.js"' in page


def test_chat_page_links_assets_under_the_mount_prefix(app: Flask) -> None:
    # Mounted the way the dev server mounts it.
    mounted = DispatcherMiddleware(Flask("host"), {"/emulator": app})
    client = Client(mounted)

    page = client.get("/emulator/").get_data(as_text=True)

    assert 'src="/emulator/static/chat.js"' in page
    assert 'data-api-base="/emulator/"' in page


def test_new_fan_gets_a_line_style_user_id(client: FlaskClient) -> None:
    response = client.post("/api/users", json={"displayName": "鈴木"})

    assert response.status_code == 201
    assert response.json is not None
    user = response.json["user"]
    assert user["displayName"] == "鈴木" and user["following"] is False
    assert len(user["userId"]) == 33 and user["userId"].startswith("U")


def test_fan_needs_a_name(client: FlaskClient, state: EmulatorState) -> None:
    assert client.post("/api/users", json={"displayName": "  "}).status_code == 400
    assert state.list_users() == []


def test_follow_sends_a_signed_follow_event_with_a_usable_reply_token(
    client: FlaskClient, state: EmulatorState, received: Received, fan_id: str
) -> None:
    response = client.post(f"/api/users/{fan_id}/follow")

    assert response.json == {"webhook": {"status": 200, "error": None}}
    (event,) = parse(received)
    assert isinstance(event, FollowEvent)
    assert event.source.user_id == fan_id
    assert event.follow.is_unblocked is False
    assert state.use_reply_token(event.reply_token, state_now(), 60) == fan_id
    assert json.loads(received.bodies[-1])["destination"] == app_config(client).bot_user_id


def state_now() -> float:
    import time

    return time.time()


def app_config(client: FlaskClient) -> EmulatorConfig:
    config: EmulatorConfig = client.application.extensions["line_emulator_config"]
    return config


def test_follow_after_block_says_unblocked(client: FlaskClient, received: Received, fan_id: str) -> None:
    client.post(f"/api/users/{fan_id}/follow")
    client.post(f"/api/users/{fan_id}/unfollow")
    client.post(f"/api/users/{fan_id}/follow")

    events = [parse(received, i)[0] for i in range(3)]
    assert [type(e) for e in events] == [FollowEvent, UnfollowEvent, FollowEvent]
    assert events[2].follow.is_unblocked is True


def test_text_becomes_a_message_event_and_appears_in_the_conversation(
    client: FlaskClient, received: Received, fan_id: str
) -> None:
    client.post(f"/api/users/{fan_id}/follow")

    client.post(f"/api/users/{fan_id}/text", json={"text": "チケットどこ？"})

    (event,) = parse(received)
    assert isinstance(event, MessageEvent)
    assert event.message.text == "チケットどこ？"
    conversation = client.get(f"/api/conversation/{fan_id}").json
    assert conversation is not None
    assert conversation["entries"][-1]["direction"] == "user"
    assert conversation["entries"][-1]["message"]["text"] == "チケットどこ？"
    assert conversation["webhook"] == {"status": 200, "error": None}


def test_text_from_a_fan_who_is_not_a_friend_is_refused(
    client: FlaskClient, received: Received, fan_id: str
) -> None:
    response = client.post(f"/api/users/{fan_id}/text", json={"text": "hi"})

    assert response.status_code == 409
    assert received.bodies == []


def test_postback_carries_data_and_shows_display_text(
    client: FlaskClient, received: Received, fan_id: str
) -> None:
    client.post(f"/api/users/{fan_id}/follow")

    client.post(f"/api/users/{fan_id}/postback", json={"data": "v1:q3:5", "displayText": "とても好き"})

    (event,) = parse(received)
    assert isinstance(event, PostbackEvent)
    assert event.postback.data == "v1:q3:5"
    conversation = client.get(f"/api/conversation/{fan_id}").json
    assert conversation is not None
    assert conversation["entries"][-1]["message"] == {
        "type": "postback",
        "data": "v1:q3:5",
        "displayText": "とても好き",
    }


def test_redeliver_resends_the_same_event_marked_as_redelivery(
    client: FlaskClient, received: Received, fan_id: str
) -> None:
    client.post(f"/api/users/{fan_id}/follow")
    client.post(f"/api/users/{fan_id}/text", json={"text": "一回目"})

    client.post(f"/api/users/{fan_id}/redeliver")

    original, again = received.events(-2)[0], received.events(-1)[0]
    assert again["webhookEventId"] == original["webhookEventId"]
    assert again["replyToken"] == original["replyToken"]
    assert (original["deliveryContext"], again["deliveryContext"]) == (
        {"isRedelivery": False},
        {"isRedelivery": True},
    )
    assert isinstance(parse(received)[0], MessageEvent)


def test_webhook_failure_status_is_shown(client: FlaskClient, received: Received, fan_id: str) -> None:
    received.status = 500

    response = client.post(f"/api/users/{fan_id}/follow")

    assert response.json == {"webhook": {"status": 500, "error": None}}
    conversation = client.get(f"/api/conversation/{fan_id}").json
    assert conversation is not None
    assert conversation["webhook"]["status"] == 500


def test_unreachable_bot_is_reported_not_raised(
    fan_id: str, client: FlaskClient, bot_server: EmulatorServer
) -> None:
    bot_server.stop()

    response = client.post(f"/api/users/{fan_id}/follow")

    assert response.json is not None
    assert response.json["webhook"]["status"] is None
    assert "Error" in response.json["webhook"]["error"]


def test_every_webhook_sent_conforms_to_webhook_yml(
    client: FlaskClient, state: EmulatorState, received: Received, fan_id: str
) -> None:
    contract = load_contract(default_spec_dir())
    client.post(f"/api/users/{fan_id}/follow")
    client.post(f"/api/users/{fan_id}/text", json={"text": "a"})
    client.post(f"/api/users/{fan_id}/postback", json={"data": "d"})
    client.post(f"/api/users/{fan_id}/redeliver")
    client.post(f"/api/users/{fan_id}/unfollow")

    assert len(received.bodies) == 5
    assert [contract.validate_webhook(json.loads(b)) for b in received.bodies] == [[]] * 5
    assert state.violations == []


def test_conversation_shows_rich_menu_with_image_url(
    client: FlaskClient, state: EmulatorState, fan_id: str
) -> None:
    client.post(f"/api/users/{fan_id}/follow")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    menu = {
        "size": {"width": 2500, "height": 843},
        "selected": True,
        "name": "m",
        "chatBarText": "メニュー",
        "areas": [
            {
                "bounds": {"x": 0, "y": 0, "width": 2500, "height": 843},
                "action": {"type": "postback", "data": "v1:menu"},
            }
        ],
    }
    created = client.post("/v2/bot/richmenu", json=menu, headers=auth).json
    assert created is not None
    menu_id = created["richMenuId"]
    client.post(
        f"/v2/bot/richmenu/{menu_id}/content", data=b"\x89PNG", headers={**auth, "Content-Type": "image/png"}
    )
    client.post(f"/v2/bot/user/all/richmenu/{menu_id}", headers=auth)

    conversation = client.get(f"/api/conversation/{fan_id}").json

    assert conversation is not None
    assert conversation["richMenu"]["richMenuId"] == menu_id
    assert client.get(conversation["richMenu"]["imageUrl"]).data == b"\x89PNG"
