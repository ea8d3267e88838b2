"""Handling recorded webhook events off the request path.

The webhook (`bot.webhook`) only records events as ``pending`` rows of ``webhook_events``.
`drain` handles them: each event in its own transaction that first claims the row with a
conditional ``UPDATE ... WHERE status = 'pending'`` (so two workers never handle one event),
runs the dispatcher, commits, and only then replies. A fan's events share a shard and a
shard has one worker, so they are handled one at a time, in the order LINE sent them.

A failed event stays ``pending`` and is retried while its reply token can still be used;
after that, or after `MAX_ATTEMPTS`, it becomes ``failed`` with ``last_error`` kept.
`fanbot run` runs `InboxWorkers` as threads; tests call `drain` directly after each post.
"""

from __future__ import annotations

import json
import logging
import threading
import zlib
from datetime import timedelta

from flask import Flask
from linebot.v3.webhooks import Event
from sqlalchemy import select, update

from bot.app_context import get_catalog, get_dispatcher, get_line_client, get_settings, now
from bot.db import get_database
from bot.dispatch import Turn
from bot.line_client import LineApiError
from data.models import WebhookEvent

log = logging.getLogger(__name__)

SHARDS = 64
MAX_ATTEMPTS = 5
MAX_REPLY_MESSAGES = 5  # LINE's limit per reply request
# A reply token is usable for about a minute after the event; retrying later cannot reply.
RETRY_WINDOW = timedelta(seconds=50)
WORKERS_KEY = "fanbot.inbox_workers"


def shard_of(user_id: str) -> int:
    return zlib.crc32(user_id.encode("utf-8")) % SHARDS


def drain(app: Flask, *, worker: int = 0, workers: int = 1, batch: int = 100) -> int:
    """Handle this worker's pending events, oldest first; returns how many were handled.

    Stops at the first failure, so a fan's later events never overtake an earlier one
    that is waiting for its retry.
    """
    handled = 0
    with app.app_context():
        while True:
            pending = _pending_ids(worker, workers, batch)
            for event_id in pending:
                if not handle_pending(event_id):
                    return handled
                handled += 1
            if len(pending) < batch:
                return handled


def _pending_ids(worker: int, workers: int, batch: int) -> list[str]:
    query = (
        select(WebhookEvent.webhook_event_id)
        .where(WebhookEvent.status == "pending")
        .order_by(WebhookEvent.received_at, WebhookEvent.position)
        .limit(batch)
    )
    if workers > 1:
        query = query.where(WebhookEvent.shard % workers == worker)
    with get_database().sessions() as session:
        return list(session.scalars(query))


def handle_pending(event_id: str) -> bool:
    """Handle one recorded event; False when it failed (it is then retried or marked failed)."""
    try:
        outcome = _handle(event_id)
    except Exception as error:  # a handler bug must not stop the worker or lose the event
        log.exception("webhook event %s failed", event_id)
        _record_failure(event_id, error)
        return False
    if outcome is not None:
        turn, reply_token = outcome
        _after_commit(turn, reply_token)
    return True


def _handle(event_id: str) -> tuple[Turn, str | None] | None:
    with get_database().sessions() as session, session.begin():
        claimed = session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.webhook_event_id == event_id, WebhookEvent.status == "pending")
            .values(status="done", handled_at=now(), attempts=WebhookEvent.attempts + 1)
            .returning(WebhookEvent.payload)
        ).one_or_none()
        if claimed is None or claimed.payload is None:
            return None  # another worker had it
        # The message text is not kept once the event is handled.
        session.execute(
            update(WebhookEvent).where(WebhookEvent.webhook_event_id == event_id).values(payload=None)
        )
        raw = json.loads(claimed.payload)
        event = Event.from_dict(raw)
        turn = Turn(
            session=session,
            settings=get_settings(),
            catalog=get_catalog(),
            now=now(),
            user_id=str(raw["source"]["userId"]),
        )
        get_dispatcher().handle_event(turn, event)
    return turn, getattr(event, "reply_token", None)


def _record_failure(event_id: str, error: Exception) -> None:
    try:
        with get_database().sessions() as session, session.begin():
            row = session.get(WebhookEvent, event_id)
            if row is None or row.status != "pending":
                return
            row.attempts += 1
            # First line only: SQLAlchemy appends the statement's parameters (LINE ids, texts).
            first_line = (str(error).splitlines() or [""])[0]
            row.last_error = f"{type(error).__name__}: {first_line}"[:500]
            if row.attempts >= MAX_ATTEMPTS or now() - row.received_at > RETRY_WINDOW:
                row.status = "failed"
                row.payload = None
                log.error("webhook event %s given up after %d attempts", event_id, row.attempts)
    except Exception:
        log.exception("could not record the failure of webhook event %s", event_id)


def _after_commit(turn: Turn, reply_token: str | None) -> None:
    for task in turn.after_commit:
        try:
            task()
        except Exception:
            log.exception("follow-up work after a webhook event failed")
    if not turn.replies or not reply_token:
        return
    if len(turn.replies) > MAX_REPLY_MESSAGES:
        # LINE refuses the whole reply above its limit; losing the tail beats losing all.
        log.error("reply of %d messages cut to %d", len(turn.replies), MAX_REPLY_MESSAGES)
    try:
        get_line_client().reply(reply_token, turn.replies[:MAX_REPLY_MESSAGES])
    except LineApiError as error:
        # The event is handled and stored; reply tokens are single-use, so no retry.
        log.error("reply failed: %s", error)


class InboxWorkers:
    """Threads that drain the inbox; woken by the webhook, and every second anyway
    (events recorded by another process, retries)."""

    def __init__(self, app: Flask, count: int, poll_seconds: float = 1.0) -> None:
        self.app = app
        self.count = count
        self.poll_seconds = poll_seconds
        self._wakeups = [threading.Event() for _ in range(count)]
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self.count):
            thread = threading.Thread(target=self._loop, args=(index,), name=f"inbox-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        for wakeup in self._wakeups:
            wakeup.set()

    def stop(self) -> None:
        self._stopping.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout=10)

    def _loop(self, index: int) -> None:
        wakeup = self._wakeups[index]
        while not self._stopping.is_set():
            wakeup.clear()
            try:
                drain(self.app, worker=index, workers=self.count)
            except Exception:
                log.exception("inbox worker %d failed; retrying", index)
            wakeup.wait(self.poll_seconds)


def start_workers(app: Flask, count: int) -> InboxWorkers:
    workers = InboxWorkers(app, count)
    app.extensions[WORKERS_KEY] = workers
    workers.start()
    return workers


def wake_workers(app: Flask) -> None:
    workers: InboxWorkers | None = app.extensions.get(WORKERS_KEY)
    if workers is not None:
        workers.wake()
