"""Webhook bodies and signatures are what LINE sends and what the SDK accepts."""

from __future__ import annotations

import re

import pytest
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhooks import FollowEvent, MessageEvent, PostbackEvent, TextMessageContent, UnfollowEvent

from line_emulator import events

USER = "U" + "a" * 32
BOT = "U" + "b" * 32
SECRET = "channel-secret"


def test_signature_is_accepted_by_the_sdk_parser() -> None:
    raw = events.serialize(
        events.callback_body([events.text_message_event(USER, "やあ", reply_token="t")], BOT)
    )

    parsed = WebhookParser(SECRET).parse(raw.decode("utf-8"), events.sign(raw, SECRET))

    assert isinstance(parsed[0], MessageEvent)
    assert isinstance(parsed[0].message, TextMessageContent)
    assert parsed[0].message.text == "やあ"
    assert parsed[0].reply_token == "t"


def test_signature_with_another_secret_is_rejected_by_the_sdk() -> None:
    raw = events.serialize(events.callback_body([events.unfollow_event(USER)], BOT))

    with pytest.raises(InvalidSignatureError):
        WebhookParser(SECRET).parse(raw.decode("utf-8"), events.sign(raw, "other-secret"))


def test_signature_matches_a_known_value() -> None:
    # echo -n '{"destination":"x","events":[]}' | openssl dgst -sha256 -hmac secret -binary | base64
    assert events.sign(b'{"destination":"x","events":[]}', "secret") == (
        "wVfB5t0lqPHpx38QyQOGp7ObRShYSU1OOvaBooe7I0c="
    )


def test_follow_event_has_reply_token_and_unblock_flag() -> None:
    event = events.follow_event(USER, reply_token="r", is_unblocked=True, timestamp_ms=1_700_000_000_000)

    assert event["replyToken"] == "r"
    assert event["follow"] == {"isUnblocked": True}
    assert event["timestamp"] == 1_700_000_000_000
    assert event["mode"] == "active"
    assert event["source"] == {"type": "user", "userId": USER}
    assert event["deliveryContext"] == {"isRedelivery": False}


def test_every_builder_parses_to_its_sdk_event_type() -> None:
    body = events.callback_body(
        [
            events.follow_event(USER, reply_token="r1"),
            events.unfollow_event(USER),
            events.postback_event(USER, "v1:a", reply_token="r2", params={"datetime": "2025-01-01T10:00"}),
        ],
        BOT,
    )
    raw = events.serialize(body)

    parsed = WebhookParser(SECRET).parse(raw.decode("utf-8"), events.sign(raw, SECRET))

    assert [type(e) for e in parsed] == [FollowEvent, UnfollowEvent, PostbackEvent]
    assert parsed[2].postback.data == "v1:a"
    assert parsed[2].postback.params == {"datetime": "2025-01-01T10:00"}


def test_unfollow_event_has_no_reply_token() -> None:
    assert "replyToken" not in events.unfollow_event(USER)


def test_webhook_event_id_is_a_ulid_starting_with_the_event_time() -> None:
    first = events.new_ulid(1_700_000_000_000)
    second = events.new_ulid(1_700_000_000_000)

    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", first)
    # Decoded by hand-rolled base32 lookup rather than the encoder under test.
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    millis = 0
    for char in first[:10]:
        millis = millis * 32 + alphabet.index(char)
    assert millis == 1_700_000_000_000
    assert first[:10] == second[:10]
    assert first != second


def test_redelivery_keeps_event_ids_and_marks_every_event() -> None:
    body = events.callback_body(
        [events.text_message_event(USER, "a", reply_token="r"), events.unfollow_event(USER)], BOT
    )

    again = events.as_redelivery(body)

    assert [e["webhookEventId"] for e in again["events"]] == [e["webhookEventId"] for e in body["events"]]
    assert [e["deliveryContext"] for e in again["events"]] == [{"isRedelivery": True}] * 2
    assert [e["deliveryContext"] for e in body["events"]] == [{"isRedelivery": False}] * 2


def test_serialized_body_keeps_japanese_unescaped() -> None:
    raw = events.serialize(
        events.callback_body([events.text_message_event(USER, "応援", reply_token="r")], BOT)
    )

    assert "応援".encode() in raw
