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
import time
import zlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from flask import Flask
from linebot.v3.webhooks import Event
from sqlalchemy import CursorResult, func, select, update

from bot.app_context import get_catalog, get_dispatcher, get_line_client, get_settings, now
from bot.db import get_database
from bot.dispatch import Turn
from bot.line_client import LineApiError
from bot.metrics import EVENT_HANDLING, SENDS, WEBHOOK_EVENTS, log_event
from data.models import WebhookEvent

log = logging.getLogger(__name__)

SHARDS = 64
MAX_ATTEMPTS = 5
MAX_REPLY_MESSAGES = 5  # LINE's limit per reply request
# A reply token is usable for about a minute after the event; retrying later cannot reply.
RETRY_WINDOW = timedelta(seconds=50)
WORKERS_KEY = "fanbot.inbox_workers"
# First half of PostgreSQL's two-part advisory lock key for inbox shards ("LINE" in ASCII).
SHARD_LOCK_KEY = 0x4C494E45


def shard_of(user_id: str) -> int:
    return zlib.crc32(user_id.encode("utf-8")) % SHARDS


def drain(app: Flask, *, worker: int = 0, workers: int = 1) -> int:
    """Handle this worker's pending events, each shard oldest first; returns how many were handled.

    Worker ``i`` of ``n`` takes the shards ``s`` with ``s % n == i``. Any number of processes
    may drain at once: a shard is handled under a lock (SQLite's write lock; a transaction-level
    advisory lock per shard on PostgreSQL), and the oldest pending event of the shard is chosen
    under that lock, so a fan's events never overtake each other. A shard stops at its first
    failure until the next pass, so later events wait for the one being retried.
    """
    handled = 0
    with app.app_context():
        for shard in _pending_shards(worker, workers):
            handled += _drain_shard(shard)
    return handled


class _HandlingError(Exception):
    def __init__(self, event_id: str, event_type: str) -> None:
        super().__init__(event_id)
        self.event_id = event_id
        self.event_type = event_type


@dataclass
class _Handled:
    event_id: str
    event_type: str
    turn: Turn
    reply_token: str | None


def _pending_shards(worker: int, workers: int) -> list[int]:
    query = select(WebhookEvent.shard).where(WebhookEvent.status == "pending").distinct()
    if workers > 1:
        query = query.where(WebhookEvent.shard % workers == worker)
    with get_database().sessions() as session:
        return sorted(session.scalars(query))


def _drain_shard(shard: int) -> int:
    handled = 0
    while True:
        started = time.perf_counter()
        try:
            outcome = _handle_next(shard)
        except _HandlingError as failure:
            # A handler bug or a lost database must not stop the worker or lose the event.
            cause = failure.__cause__ or failure
            log.error("webhook event %s failed: %s", failure.event_id, type(cause).__name__, exc_info=cause)
            _record_failure(failure.event_id, cause)
            WEBHOOK_EVENTS.labels(type=failure.event_type, outcome="failed").inc()
            log_event(
                "webhook_event",
                id=failure.event_id,
                type=failure.event_type,
                outcome="failed",
                error=type(cause).__name__,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
            return handled
        except Exception:
            # e.g. the commit failed: nothing was stored and the event is still pending.
            log.exception("inbox shard %d could not be handled; retrying on the next pass", shard)
            return handled
        if outcome is None:
            return handled
        _after_commit(outcome.turn, outcome.reply_token)
        elapsed = time.perf_counter() - started
        EVENT_HANDLING.observe(elapsed)
        WEBHOOK_EVENTS.labels(type=outcome.event_type, outcome="handled").inc()
        log_event(
            "webhook_event",
            id=outcome.event_id,
            type=outcome.event_type,
            outcome="handled",
            replies=len(outcome.turn.replies),
            ms=round(elapsed * 1000, 1),
        )
        handled += 1


def _handle_next(shard: int) -> _Handled | None:
    """Claim and handle the shard's oldest pending event in one transaction; None when there is none."""
    with get_database().sessions() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            locked = session.scalar(select(func.pg_try_advisory_xact_lock(SHARD_LOCK_KEY, shard)))
            if not locked:
                return None  # another process is handling this shard right now
        row = session.execute(
            select(WebhookEvent.webhook_event_id, WebhookEvent.event_type, WebhookEvent.payload)
            .where(WebhookEvent.status == "pending", WebhookEvent.shard == shard)
            .order_by(WebhookEvent.received_at, WebhookEvent.position)
            .limit(1)
        ).first()
        if row is None:
            return None
        event_id, event_type, payload = row
        claimed = cast(
            CursorResult[Any],
            session.execute(
                update(WebhookEvent)
                .where(WebhookEvent.webhook_event_id == event_id, WebhookEvent.status == "pending")
                # The message text is not kept once the event is handled.
                .values(status="done", handled_at=now(), payload=None, attempts=WebhookEvent.attempts + 1)
            ),
        )
        if claimed.rowcount != 1 or payload is None:
            return None
        try:
            raw = json.loads(payload)
            event = Event.from_dict(raw)
            turn = Turn(
                session=session,
                settings=get_settings(),
                catalog=get_catalog(),
                now=now(),
                user_id=str(raw["source"]["userId"]),
            )
            get_dispatcher().handle_event(turn, event)
            session.flush()
        except Exception as error:
            raise _HandlingError(event_id, event_type) from error
    return _Handled(event_id, event_type, turn, getattr(event, "reply_token", None))


def _record_failure(event_id: str, error: BaseException) -> None:
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
        SENDS.labels(kind="reply", outcome="failed").inc()
        log_event("send", kind="reply", outcome="failed", status=error.status)
        return
    SENDS.labels(kind="reply", outcome="sent").inc()
    log_event("send", kind="reply", outcome="sent", messages=min(len(turn.replies), MAX_REPLY_MESSAGES))


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
