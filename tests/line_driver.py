"""Plays the LINE platform towards the bot in tests: signed webhooks in, delivered replies out."""

from __future__ import annotations

import time
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bot.inbox import drain
from line_emulator import events
from line_emulator.state import EmulatorState


class LineDriver:
    def __init__(self, client: FlaskClient, state: EmulatorState, channel_secret: str) -> None:
        self.client = client
        self.state = state
        self.secret = channel_secret
        self.destination = "U" + "0f" * 16
        self.last_body: bytes | None = None

    def new_fan(self, name: str = "テストファン") -> str:
        return self.state.create_user(name).user_id

    def post(self, body: bytes, signature: str | None) -> TestResponse:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Line-Signature"] = signature
        response = self.client.post("/callback", data=body, headers=headers)
        # The webhook only records events; handle them now, as `fanbot run`'s workers would.
        self.drain()
        return response

    def drain(self) -> int:
        return drain(self.client.application)

    def send(self, *event_list: dict[str, Any]) -> TestResponse:
        body = events.serialize(events.callback_body(list(event_list), self.destination))
        self.last_body = body
        return self.post(body, events.sign(body, self.secret))

    def redeliver_last(self) -> TestResponse:
        assert self.last_body is not None
        import json

        body = events.serialize(events.as_redelivery(json.loads(self.last_body)))
        return self.post(body, events.sign(body, self.secret))

    def token(self, user_id: str) -> str:
        return self.state.issue_reply_token(user_id, time.time())

    def _exchange(self, user_id: str, event: dict[str, Any]) -> list[dict[str, Any]]:
        before = len(self.state.messages_for(user_id))
        response = self.send(event)
        assert response.status_code == 200, response.get_data(as_text=True)
        return self.state.messages_for(user_id)[before:]

    def follow(self, user_id: str) -> list[dict[str, Any]]:
        self.state.set_following(user_id, True) if self.state.get_user(user_id) else None
        return self._exchange(user_id, events.follow_event(user_id, reply_token=self.token(user_id)))

    def unfollow(self, user_id: str) -> TestResponse:
        if self.state.get_user(user_id):
            self.state.set_following(user_id, False)
        return self.send(events.unfollow_event(user_id))

    def text(self, user_id: str, text: str) -> list[dict[str, Any]]:
        return self._exchange(
            user_id, events.text_message_event(user_id, text, reply_token=self.token(user_id))
        )

    def postback(self, user_id: str, data: str) -> list[dict[str, Any]]:
        return self._exchange(user_id, events.postback_event(user_id, data, reply_token=self.token(user_id)))


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages if m.get("type") == "text"]


def quick_replies(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The actions of a message's quick-reply buttons."""
    return [item["action"] for item in (message.get("quickReply") or {}).get("items", [])]


def postback_data(message: dict[str, Any], label: str) -> str:
    for action in quick_replies(message):
        if action.get("label") == label and action.get("type") == "postback":
            return str(action["data"])
    raise AssertionError(f"no postback button {label!r} in {quick_replies(message)}")
