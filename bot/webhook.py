"""``POST /callback``: the LINE webhook.

Thin on purpose: verify the signature over the raw body, parse to typed events,
hand each event to the dispatcher inside its own transaction, and send replies
only after that transaction committed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify, request
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import Message as LineMessage
from linebot.v3.webhooks import (
    Event,
    FollowEvent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
    UnfollowEvent,
    UserSource,
)
from pydantic.v1 import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from bot.app_context import get_catalog, get_dispatcher, get_line_client, get_settings, now
from bot.db import get_database
from bot.dispatch import Turn
from bot.line_client import LineApiError
from data.models import WebhookEvent

log = logging.getLogger(__name__)

bp = Blueprint("webhook", __name__)

MAX_REPLY_MESSAGES = 5  # LINE's limit per reply request


class MalformedWebhookError(ValueError):
    """A webhook body that is not what LINE sends."""


@dataclass
class PendingReply:
    reply_token: str
    messages: list[LineMessage]


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


@bp.post("/callback")
def callback() -> Any:
    signature = request.headers.get("X-Line-Signature")
    if not signature:
        return _error(400, "missing X-Line-Signature header")
    raw = request.get_data(cache=False)
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _error(400, "body is not UTF-8")
    parser = WebhookParser(get_settings().line_channel_secret)
    try:
        if not parser.signature_validator.validate(body, signature):
            raise InvalidSignatureError("signature mismatch")
    except InvalidSignatureError:
        log.warning("rejected webhook with an invalid signature")
        return _error(400, "invalid signature")
    try:
        events = parse_events(body)
    except MalformedWebhookError as error:
        log.warning("rejected malformed webhook: %s", error)
        return _error(400, f"malformed webhook body: {error}")

    replies: list[PendingReply] = []
    try:
        for event in events:
            pending = handle_event(event)
            if pending is not None:
                replies.append(pending)
    except SQLAlchemyError:
        # LINE redelivers on 5xx; events committed before the failure are
        # recognised by their webhookEventId and not handled twice.
        log.exception("database error while handling webhook")
        _send_replies(replies)
        return _error(503, "database unavailable")
    _send_replies(replies)
    return jsonify({}), 200


def parse_events(body: str) -> list[Event]:
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise MalformedWebhookError("body is not JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise MalformedWebhookError("expected an object with an 'events' array")
    events: list[Event] = []
    for index, raw in enumerate(payload["events"]):
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            raise MalformedWebhookError(f"events[{index}] has no type")
        if not isinstance(raw.get("webhookEventId"), str) or not raw["webhookEventId"]:
            raise MalformedWebhookError(f"events[{index}] has no webhookEventId")
        try:
            events.append(Event.from_dict(raw))
        except ValidationError as exc:
            raise MalformedWebhookError(f"events[{index}] ({raw['type']}) does not match its schema") from exc
        except ValueError:
            # An event type this SDK does not know yet: acknowledged and ignored.
            log.info("ignoring unknown webhook event type %r", raw["type"])
    return events


def handle_event(event: Event) -> PendingReply | None:
    """Handle one event in its own transaction; return the reply to send after commit."""
    source = getattr(event, "source", None)
    if not isinstance(source, UserSource) or not source.user_id:
        return None  # group and room chats are not part of the product
    database = get_database()
    dispatcher = get_dispatcher()
    with database.sessions() as session:
        try:
            with session.begin():
                session.add(
                    WebhookEvent(
                        webhook_event_id=event.webhook_event_id, event_type=event.type, received_at=now()
                    )
                )
                session.flush()
                turn = Turn(
                    session=session,
                    settings=get_settings(),
                    catalog=get_catalog(),
                    now=now(),
                    user_id=source.user_id,
                )
                _dispatch(dispatcher, turn, event)
        except IntegrityError:
            if _already_handled(event.webhook_event_id):
                log.info("webhook event %s already handled; skipping redelivery", event.webhook_event_id)
                return None
            raise
    run_after_commit(turn)
    reply_token = getattr(event, "reply_token", None)
    if turn.replies and reply_token:
        if len(turn.replies) > MAX_REPLY_MESSAGES:
            # LINE refuses the whole reply above its limit; losing the tail beats losing all.
            log.error("reply of %d messages cut to %d", len(turn.replies), MAX_REPLY_MESSAGES)
        return PendingReply(reply_token=reply_token, messages=turn.replies[:MAX_REPLY_MESSAGES])
    return None


def run_after_commit(turn: Turn) -> None:
    """The turn's follow-up work, now that what it stored is committed; a failure is only logged."""
    for task in turn.after_commit:
        try:
            task()
        except Exception:
            log.exception("follow-up work after a webhook event failed")


def _already_handled(webhook_event_id: str) -> bool:
    with get_database().sessions() as session:
        try:
            return session.get(WebhookEvent, webhook_event_id) is not None
        except OperationalError:
            return False


def _dispatch(dispatcher: Any, turn: Turn, event: Event) -> None:
    if isinstance(event, FollowEvent):
        for handler in dispatcher.follow:
            handler(turn)
    elif isinstance(event, UnfollowEvent):
        for handler in dispatcher.unfollow:
            handler(turn)
    elif isinstance(event, MessageEvent):
        if isinstance(event.message, TextMessageContent):
            dispatcher.handle_text(turn, event.message.text)
        else:
            from bot import messages

            turn.reply(
                messages.text("メッセージありがとうございます。文字でのご入力か、ボタンをご利用ください。")
            )
    elif isinstance(event, PostbackEvent):
        dispatcher.handle_postback(turn, event.postback.data)


def _send_replies(replies: list[PendingReply]) -> None:
    client = get_line_client()
    for pending in replies:
        try:
            client.reply(pending.reply_token, pending.messages)
        except LineApiError as error:
            # The event is handled and stored; a lost reply is logged, not retried
            # (reply tokens are single-use and expire).
            log.error("reply failed: %s", error)
