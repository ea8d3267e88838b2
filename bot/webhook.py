"""``POST /callback``: the LINE webhook.

Acknowledges fast and loses nothing: verify the signature over the raw body, check each
event on its own, record the good ones in the inbox (``webhook_events``, deduplicated by
``webhookEventId``) in one short transaction, and answer 200. Handling the events and
replying happen in `bot.inbox`, off the request path, so a slow LINE API or a long
turn never delays the acknowledgement. A malformed event is logged and skipped; it
never blocks the good events of its batch.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhook import SignatureValidator
from linebot.v3.webhooks import Event
from pydantic.v1 import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot.app_context import get_settings, now
from bot.db import get_database
from bot.inbox import shard_of, wake_workers
from bot.metrics import WEBHOOK_EVENTS, WEBHOOK_LATENCY, log_event
from data.database import insert_new
from data.models import WebhookEvent

log = logging.getLogger(__name__)

bp = Blueprint("webhook", __name__)

# LINE's webhook bodies are a few kilobytes; anything far larger is not from LINE.
MAX_BODY_BYTES = 1024 * 1024
# Longer than any id LINE issues (webhookEventId is a 26-character ULID, userId 33 characters)
# and than the columns that hold them.
MAX_ID_LENGTH = 64


class MalformedWebhookError(ValueError):
    """A webhook body (or one event in it) that is not what LINE sends."""


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


@bp.before_request
def _start_clock() -> None:
    g.webhook_started = time.perf_counter()


@bp.after_request
def _observe(response: Response) -> Response:
    WEBHOOK_LATENCY.observe(time.perf_counter() - g.webhook_started)
    return response


@bp.post("/callback")
def callback() -> Any:
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        # Refused before reading a byte of it.
        return _error(413, "body too large")
    signature = request.headers.get("X-Line-Signature")
    if not signature:
        return _error(400, "missing X-Line-Signature header")
    try:
        raw = request.stream.read(MAX_BODY_BYTES + 1)
    except (OSError, ValueError):
        # e.g. a chunked body with a bad chunk header
        log.warning("rejected webhook with an unreadable body")
        return _error(400, "unreadable body")
    if len(raw) > MAX_BODY_BYTES:
        return _error(413, "body too large")
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _error(400, "body is not UTF-8")
    try:
        if not SignatureValidator(get_settings().line_channel_secret).validate(body, signature):
            raise InvalidSignatureError("signature mismatch")
    except InvalidSignatureError:
        log.warning("rejected webhook with an invalid signature")
        return _error(400, "invalid signature")
    try:
        raw_events = parse_body(body)
    except MalformedWebhookError as error:
        log.warning("rejected malformed webhook: %s", error)
        return _error(400, f"malformed webhook body: {error}")

    rows = inbox_rows(raw_events)
    try:
        with get_database().sessions() as session, session.begin():
            insert_new(session, WebhookEvent.__table__, rows, keys=["webhook_event_id"])
    except SQLAlchemyError:
        # Nothing was recorded: a 5xx makes LINE redeliver (when redelivery is switched on).
        log.exception("database error while recording webhook events")
        return _error(503, "database unavailable")
    if rows:
        wake_workers(current_app)
    return jsonify({}), 200


def parse_body(body: str) -> list[Any]:
    """The body's ``events`` array; raises `MalformedWebhookError` when the body itself is wrong."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        # RecursionError: a signed body nested thousands deep
        raise MalformedWebhookError("body is not JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise MalformedWebhookError("expected an object with an 'events' array")
    return list(payload["events"])


def check_event(raw: Any) -> tuple[Event, str] | None:
    """The typed event and its user id, or None for an event the product ignores.

    Raises `MalformedWebhookError` for an event that is not what LINE sends.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise MalformedWebhookError("event has no type")
    event_id = raw.get("webhookEventId")
    if not _is_plain_id(event_id):
        raise MalformedWebhookError("event has no usable webhookEventId")
    try:
        event = Event.from_dict(raw)
    except ValidationError as exc:
        raise MalformedWebhookError(f"{raw['type']} event does not match its schema") from exc
    except (ValueError, TypeError, RecursionError):
        # An event type this SDK does not know yet: acknowledged and ignored.
        log.info("ignoring unknown webhook event type %r", raw["type"][:40])
        return None
    source = getattr(event, "source", None)
    user_id = getattr(source, "user_id", None)
    if getattr(source, "type", None) != "user" or user_id is None:
        return None  # group and room chats are not part of the product
    if not _is_plain_id(user_id):
        raise MalformedWebhookError("event has no usable userId")
    return event, str(user_id)


def inbox_rows(raw_events: list[Any]) -> list[dict[str, Any]]:
    received_at = now()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_events):
        try:
            checked = check_event(raw)
        except MalformedWebhookError as error:
            log.warning("skipped malformed webhook event %d: %s", position, error)
            WEBHOOK_EVENTS.labels(type="malformed", outcome="skipped").inc()
            log_event("webhook_event", position=position, outcome="malformed", reason=str(error))
            continue
        if checked is None:
            kind = str(raw.get("type"))[:32] if isinstance(raw, dict) else "unknown"
            WEBHOOK_EVENTS.labels(type="other", outcome="ignored").inc()
            log_event("webhook_event", type=kind, outcome="ignored")
            continue
        event, user_id = checked
        if event.webhook_event_id in seen:
            continue
        seen.add(event.webhook_event_id)
        WEBHOOK_EVENTS.labels(type=str(event.type), outcome="recorded").inc()
        log_event("webhook_event", id=event.webhook_event_id, type=str(event.type), outcome="recorded")
        rows.append(
            {
                "webhook_event_id": event.webhook_event_id,
                "event_type": str(event.type)[:32],
                "received_at": received_at,
                "payload": json.dumps(raw, ensure_ascii=False),
                "position": position,
                "shard": shard_of(user_id),
                "status": "pending",
                "attempts": 0,
            }
        )
    return rows


def _is_plain_id(value: Any) -> bool:
    return (
        isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH and value.isascii() and value.isprintable()
    )
