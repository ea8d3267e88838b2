"""Webhook bodies as the LINE platform sends them, and their signature.

Pure builders: each takes the values that vary (IDs, tokens, time) as arguments, with
defaults drawn fresh, so tests can pin every field and compare bodies exactly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Sequence
from typing import Any

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(now_ms: int | None = None) -> str:
    """A ULID (26 Crockford base32 chars: 48-bit ms time + 80 random bits), as LINE uses
    for ``webhookEventId``."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms & ((1 << 48) - 1)) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_message_id() -> str:
    return str(secrets.randbelow(9 * 10**17) + 10**17)


def new_quote_token() -> str:
    return secrets.token_urlsafe(48)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _base(
    event_type: str,
    user_id: str,
    *,
    timestamp_ms: int | None,
    webhook_event_id: str | None,
    is_redelivery: bool,
) -> dict[str, Any]:
    ts = _now_ms() if timestamp_ms is None else timestamp_ms
    return {
        "type": event_type,
        "mode": "active",
        "timestamp": ts,
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": webhook_event_id or new_ulid(ts),
        "deliveryContext": {"isRedelivery": is_redelivery},
    }


def follow_event(
    user_id: str,
    *,
    reply_token: str,
    is_unblocked: bool = False,
    timestamp_ms: int | None = None,
    webhook_event_id: str | None = None,
    is_redelivery: bool = False,
) -> dict[str, Any]:
    event = _base(
        "follow",
        user_id,
        timestamp_ms=timestamp_ms,
        webhook_event_id=webhook_event_id,
        is_redelivery=is_redelivery,
    )
    event["replyToken"] = reply_token
    event["follow"] = {"isUnblocked": is_unblocked}
    return event


def unfollow_event(
    user_id: str,
    *,
    timestamp_ms: int | None = None,
    webhook_event_id: str | None = None,
    is_redelivery: bool = False,
) -> dict[str, Any]:
    # No replyToken: a fan who just blocked the account cannot be replied to.
    return _base(
        "unfollow",
        user_id,
        timestamp_ms=timestamp_ms,
        webhook_event_id=webhook_event_id,
        is_redelivery=is_redelivery,
    )


def text_message_event(
    user_id: str,
    text: str,
    *,
    reply_token: str,
    message_id: str | None = None,
    quote_token: str | None = None,
    timestamp_ms: int | None = None,
    webhook_event_id: str | None = None,
    is_redelivery: bool = False,
) -> dict[str, Any]:
    event = _base(
        "message",
        user_id,
        timestamp_ms=timestamp_ms,
        webhook_event_id=webhook_event_id,
        is_redelivery=is_redelivery,
    )
    event["replyToken"] = reply_token
    event["message"] = {
        "id": message_id or new_message_id(),
        "type": "text",
        "text": text,
        "quoteToken": quote_token or new_quote_token(),
    }
    return event


def postback_event(
    user_id: str,
    data: str,
    *,
    reply_token: str,
    params: dict[str, str] | None = None,
    timestamp_ms: int | None = None,
    webhook_event_id: str | None = None,
    is_redelivery: bool = False,
) -> dict[str, Any]:
    event = _base(
        "postback",
        user_id,
        timestamp_ms=timestamp_ms,
        webhook_event_id=webhook_event_id,
        is_redelivery=is_redelivery,
    )
    event["replyToken"] = reply_token
    postback: dict[str, Any] = {"data": data}
    if params:
        postback["params"] = dict(params)
    event["postback"] = postback
    return event


def callback_body(events: Sequence[dict[str, Any]], destination: str) -> dict[str, Any]:
    return {"destination": destination, "events": list(events)}


def as_redelivery(body: dict[str, Any]) -> dict[str, Any]:
    """The same body with every event marked redelivered; event IDs stay the same,
    which is what lets a bot recognise the event it already handled."""
    events = []
    for event in body.get("events", []):
        copy = dict(event)
        copy["deliveryContext"] = {"isRedelivery": True}
        events.append(copy)
    return {**body, "events": events}


def serialize(body: dict[str, Any]) -> bytes:
    # Compact UTF-8 JSON without ASCII escapes, as LINE sends it; the signature is over
    # these exact bytes.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(body: bytes, channel_secret: str) -> str:
    """``X-Line-Signature``: base64 of HMAC-SHA256 over the raw body, keyed by the channel secret."""
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")
