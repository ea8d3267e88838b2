"""The push outbox: every message is written here before it is sent, and sent from here exactly once.

One row per message to one fan. A job that decides to send (the post-game job, a campaign)
calls `enqueue` in the same transaction as whatever caused the messages (issued coupons), so a
message exists exactly when its cause does. The sender (``bot/sender.py``) then works the rows
through these functions, each a short transaction of its own, and talks to LINE only between
them, never inside one:

``claim_batch``
    takes the best-scored due rows (``pending``, or ``sending`` whose lease ran out because
    their sender died) and marks them ``sending`` with a lease. On PostgreSQL the rows are
    chosen with ``FOR UPDATE SKIP LOCKED``, so any number of senders share the queue and no
    row is taken twice; on SQLite the write lock taken at ``BEGIN`` serialises claims. Rows
    whose fan can no longer be reached (opted out, blocked, consent withdrawn, data deleted)
    become ``dropped`` here, at the last moment before sending.
`record_outcomes`
    writes what LINE answered: ``sent`` (also for 409 "retry key already accepted": the first
    attempt got through), ``pending`` again with a later ``next_attempt_at`` (429, 5xx,
    timeouts), ``failed`` with the reason (other 4xx), ``over_quota`` (the month's quota ran
    out). Only rows still ``sending`` change, so a slow sender whose lease was taken over
    cannot undo what the other one recorded.
`plan_quota` / `stop_for_quota`
    keep the best-scored rows that fit in what is left of the month's quota and mark the
    rest ``over_quota``: reported, never silently dropped, and put back with `requeue_over_quota`.
`cancel_game`
    a game postponed after its send was planned: its rows not sent yet become ``cancelled``
    (terminal, with the reason). A row being sent at that moment may still be recorded
    ``sent`` by its sender, since LINE accepted it; nothing cancelled is ever claimed again.

Coupons. A message may carry coupon cards: `OutboxItem.coupon_ids` are written to
``outbox_coupons`` next to the row (``carried``; the coupons issued with it but not shown,
``held_coupon_ids``, are linked with ``carried`` false), so the coupon layer can mark them
sent when LINE accepts the message and void them when it is cancelled (`coupons.outbox`).

Exactly once. Every row has a stable ``retry_key`` (a UUID) sent as ``X-Line-Retry-Key``, and
LINE answers 409 instead of delivering again for 24 hours. A sender that dies mid-send leaves
rows ``sending``; when their lease runs out another sender claims them and sends them again
with the same key, so each is delivered once and counted once. Retries stop before the key
would expire (`RETRY_WINDOW`): after that LINE would deliver a second copy, so the row becomes
``failed`` instead.

Multicast. Messages that are identical for everyone (``personal=False``) are grouped at
`enqueue` into batches of at most 500 recipients, one multicast request each. A batch's rows
share ``batch_key``, the multicast request's retry key. A batch is claimed through its head
(its live row with the lowest id) and the head's claim takes the whole batch, so the same key
always goes out with the same recipients (minus any dropped since), whichever sender sends it.

Plain functions on a `Session`; none of them commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    CursorResult,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from data.consent import reachable_clause
from data.models import Base, BigIntId, Fan, UTCDateTime, utcnow

__all__ = [
    "MAX_MULTICAST_RECIPIENTS",
    "OUTBOX_KINDS",
    "OUTBOX_STATES",
    "RETRY_WINDOW",
    "ClaimReport",
    "Delivery",
    "EnqueueReport",
    "OutboxCoupon",
    "OutboxItem",
    "OutboxMessage",
    "Outcome",
    "cancel_game",
    "claim_batch",
    "count_by_state",
    "enqueue",
    "forget_fan",
    "plan_quota",
    "record_outcomes",
    "requeue_over_quota",
    "stop_for_quota",
]

OUTBOX_STATES = ("pending", "sending", "sent", "failed", "over_quota", "dropped", "cancelled")
OUTBOX_KINDS = ("push", "multicast")
MAX_MULTICAST_RECIPIENTS = 500
# LINE remembers an accepted retry key for 24 hours; retrying later could deliver twice.
RETRY_WINDOW = timedelta(hours=23)
DEFAULT_LEASE = timedelta(minutes=2)
_INSERT_CHUNK = 1000
_UNREACHABLE = "not reachable at send time: opted out, blocked, consent not current, or data deleted"


class OutboxMessage(Base):
    """One message (up to five LINE message objects) for one fan, and where its sending stands."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        UniqueConstraint("retry_key", name="uq_outbox_messages_retry_key"),
        # The sender's queue: due rows of a state, best-scored first.
        Index("ix_outbox_messages_queue", "state", "priority", "id"),
        Index("ix_outbox_messages_batch_key", "batch_key"),
        Index("ix_outbox_messages_fan_id", "fan_id"),
        Index("ix_outbox_messages_campaign_id", "campaign_id"),
        Index("ix_outbox_messages_game_id", "game_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    # Sent as X-Line-Retry-Key with every attempt of this message (as a push).
    retry_key: Mapped[str] = mapped_column(String(36), default=lambda: str(uuid.uuid4()))
    # NULL once the fan deleted their data; such a row is dropped, never sent.
    fan_id: Mapped[int | None] = mapped_column(ForeignKey("fans.id", ondelete="SET NULL"))
    line_user_id: Mapped[str | None] = mapped_column(String(64))
    # The LINE message objects as a JSON array, serialised once when enqueued.
    payload: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="push")  # "push" or "multicast"
    # Multicast only: the batch's retry key (X-Line-Retry-Key of the multicast); NULL for a push.
    batch_key: Mapped[str | None] = mapped_column(String(36))
    # The fan's score for what the message offers: the best go first when the quota is short.
    priority: Mapped[float] = mapped_column(default=0.0)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Pending: not before this time. Sending: the claim's lease ends at this time.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    # x-line-request-id of the accepting request (or x-line-accepted-request-id of a 409).
    accepted_request_id: Mapped[str | None] = mapped_column(String(64))
    # What the message belongs to, for reports (no foreign keys: those tables belong to others).
    campaign_id: Mapped[int | None] = mapped_column(BigIntId)
    game_id: Mapped[int | None] = mapped_column(BigIntId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# The claim's walk (`claim_batch`): due rows of a state in the order they are taken, best-scored
# first, and every column the choice of heads reads, so neither a sort of the whole queue nor a
# lookup of each row is needed (migration 0016).
Index(
    "ix_outbox_messages_claim",
    OutboxMessage.state,
    OutboxMessage.priority.desc(),
    OutboxMessage.id,
    OutboxMessage.next_attempt_at,
    OutboxMessage.kind,
    OutboxMessage.batch_key,
)


class OutboxCoupon(Base):
    """A coupon of a message: its card is in the message (``carried``), or it was issued with
    the message and is only in マイクーポン (not ``carried``). No foreign key to ``coupons``:
    that table belongs to the coupon layer, like the rows' campaign and game ids."""

    __tablename__ = "outbox_coupons"

    retry_key: Mapped[str] = mapped_column(
        String(36), ForeignKey("outbox_messages.retry_key", ondelete="CASCADE"), primary_key=True
    )
    coupon_id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    carried: Mapped[bool] = mapped_column(Boolean, default=True)


# -- writing messages in --------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxItem:
    """A message to enqueue. ``payload`` is the JSON array of LINE message objects.

    ``personal=False`` says the payload is the same for everyone who gets it (no name, no
    coupon code): identical non-personal payloads then go out as multicast. ``coupon_ids``
    are the coupons whose cards the message carries, ``held_coupon_ids`` those issued with it
    that it does not show; a message with coupons is personal.
    """

    fan_id: int
    line_user_id: str
    payload: str
    priority: float = 0.0
    personal: bool = True
    campaign_id: int | None = None
    game_id: int | None = None
    coupon_ids: tuple[int, ...] = ()
    held_coupon_ids: tuple[int, ...] = ()


@dataclass
class EnqueueReport:
    push: int = 0
    multicast: int = 0
    batches: int = 0

    @property
    def messages(self) -> int:
        return self.push + self.multicast


def enqueue(session: Session, items: Iterable[OutboxItem], now: datetime) -> EnqueueReport:
    """Write one ``pending`` row per item; returns how many went to push and to multicast batches.

    Personal items are written as they come (memory stays flat for any audience size);
    non-personal ones are grouped by payload into batches of at most 500, best-scored first.
    """
    report = EnqueueReport()
    shared: dict[str, list[OutboxItem]] = {}
    chunk: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for item in items:
        _check(item)
        if item.personal:
            row = _row(item, now, kind="push")
            chunk.append(row)
            links.extend(_links(item, row["retry_key"]))
            report.push += 1
            if len(chunk) >= _INSERT_CHUNK:
                _insert(session, chunk, links)
                chunk, links = [], []
        else:
            shared.setdefault(item.payload, []).append(item)
    for group in shared.values():
        group.sort(key=lambda item: -item.priority)
        for start in range(0, len(group), MAX_MULTICAST_RECIPIENTS):
            rows = [
                _row(item, now, kind="multicast") for item in group[start : start + MAX_MULTICAST_RECIPIENTS]
            ]
            batch_key = str(uuid.uuid4())
            for row in rows:
                row["batch_key"] = batch_key
            chunk.extend(rows)
            report.multicast += len(rows)
            report.batches += 1
            if len(chunk) >= _INSERT_CHUNK:
                _insert(session, chunk)
                chunk = []
    _insert(session, chunk, links)
    return report


def _check(item: OutboxItem) -> None:
    if not item.line_user_id:
        raise ValueError(f"outbox item for fan {item.fan_id} has no LINE user id")
    if not item.payload.lstrip().startswith("["):
        raise ValueError(f"outbox item for fan {item.fan_id}: payload must be a JSON array of messages")
    if not item.personal and (item.coupon_ids or item.held_coupon_ids):
        raise ValueError(f"outbox item for fan {item.fan_id} carries coupons, so it must be personal")


def _links(item: OutboxItem, retry_key: str) -> list[dict[str, Any]]:
    carried = [{"retry_key": retry_key, "coupon_id": c, "carried": True} for c in item.coupon_ids]
    return carried + [
        {"retry_key": retry_key, "coupon_id": c, "carried": False}
        for c in item.held_coupon_ids
        if c not in item.coupon_ids
    ]


def _row(item: OutboxItem, now: datetime, *, kind: str) -> dict[str, Any]:
    return {
        "retry_key": str(uuid.uuid4()),
        "fan_id": item.fan_id,
        "line_user_id": item.line_user_id,
        "payload": item.payload,
        "kind": kind,
        "batch_key": None,
        "priority": float(item.priority),
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "campaign_id": item.campaign_id,
        "game_id": item.game_id,
        "created_at": now,
    }


def _insert(session: Session, rows: list[dict[str, Any]], links: list[dict[str, Any]] | None = None) -> None:
    if rows:
        session.execute(insert(OutboxMessage), rows)
    if links:
        session.execute(insert(OutboxCoupon), links)


# -- claiming work --------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One request to LINE: a push to one fan, or a multicast to a batch.

    ``retry_key`` is what goes in ``X-Line-Retry-Key``; ``row_ids`` and ``to`` are in the
    same order; ``attempts`` counts this one.
    """

    kind: str
    retry_key: str
    row_ids: tuple[int, ...]
    to: tuple[str, ...]
    payload: str
    attempts: int
    first_attempt_at: datetime


@dataclass
class ClaimReport:
    deliveries: list[Delivery] = field(default_factory=list)
    dropped: int = 0
    expired: int = 0

    @property
    def messages(self) -> int:
        return sum(len(d.row_ids) for d in self.deliveries)


_LIVE = ("pending", "sending")


def _is_head() -> Any:
    """A push row, or the live row with the lowest id of its multicast batch."""
    earlier = aliased(OutboxMessage)
    lower_live_member = (
        select(earlier.id)
        .where(
            earlier.batch_key == OutboxMessage.batch_key,
            earlier.state.in_(_LIVE),
            earlier.id < OutboxMessage.id,
        )
        .exists()
    )
    return or_(OutboxMessage.kind == "push", ~lower_live_member)


def claim_batch(
    session: Session,
    limit: int,
    now: datetime,
    *,
    consent_version: str,
    lease: timedelta = DEFAULT_LEASE,
) -> ClaimReport:
    """Take up to ``limit`` due requests' rows (a multicast batch counts once) for sending.

    Due: ``pending`` with ``next_attempt_at`` reached, or ``sending`` whose lease ran out.
    Best-scored first. The rows become ``sending`` until ``now + lease``; rows whose fan is
    no longer reachable become ``dropped``, rows whose retry key is about to expire ``failed``.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    head_ids: list[int] = []
    for state in ("sending", "pending"):  # abandoned claims first: they have waited longest
        if len(head_ids) >= limit:
            break
        query = (
            select(OutboxMessage.id)
            .where(OutboxMessage.state == state, OutboxMessage.next_attempt_at <= now, _is_head())
            .order_by(OutboxMessage.priority.desc(), OutboxMessage.id)
            .limit(limit - len(head_ids))
        )
        if postgres:
            query = query.with_for_update(skip_locked=True)
        head_ids.extend(session.scalars(query))
    report = ClaimReport()
    if not head_ids:
        return report

    # A head's claim takes its batch: members are only ever changed by whoever holds the head.
    fan_reachable = (
        select(Fan.id).where(Fan.id == OutboxMessage.fan_id, reachable_clause(consent_version)).exists()
    )
    heads = session.execute(
        select(
            OutboxMessage.kind, OutboxMessage.retry_key, OutboxMessage.batch_key, OutboxMessage.payload
        ).where(OutboxMessage.id.in_(head_ids))
    ).all()
    # One payload per request: a batch's rows all carry the same one.
    payloads = {(h.retry_key if h.kind == "push" else str(h.batch_key)): h.payload for h in heads}
    batch_keys = [h.batch_key for h in heads if h.kind == "multicast"]
    rows = session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.kind,
            OutboxMessage.retry_key,
            OutboxMessage.batch_key,
            OutboxMessage.line_user_id,
            OutboxMessage.attempts,
            OutboxMessage.first_attempt_at,
            fan_reachable.label("reachable"),
        )
        .where(
            or_(
                OutboxMessage.id.in_(head_ids),
                and_(OutboxMessage.batch_key.in_(batch_keys), OutboxMessage.state.in_(_LIVE)),
            )
            if batch_keys
            # Pushes only: an empty IN would still send SQLite through every live row (O(queue)).
            else OutboxMessage.id.in_(head_ids)
        )
        .order_by(OutboxMessage.priority.desc(), OutboxMessage.id)
    ).all()

    dropped: list[int] = []
    expired: list[tuple[int, str | None]] = []
    groups: dict[str, list[Any]] = {}
    for row in rows:
        if not row.reachable or row.line_user_id is None:
            dropped.append(row.id)
            continue
        if row.first_attempt_at is not None and now - row.first_attempt_at >= RETRY_WINDOW:
            expired.append((row.id, row.kind))
            continue
        key = row.retry_key if row.kind == "push" else str(row.batch_key)
        groups.setdefault(key, []).append(row)

    if dropped:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(dropped))
            .values(state="dropped", last_error=_UNREACHABLE, line_user_id=None)
        )
        report.dropped = len(dropped)
    if expired:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([row_id for row_id, _ in expired]))
            .values(
                state="failed",
                last_error=func.coalesce(
                    "gave up: the retry key expires after 24 hours; last error: " + OutboxMessage.last_error,
                    "gave up: the retry key expires after 24 hours",
                ),
            )
        )
        report.expired = len(expired)

    claimed: list[int] = []
    for key, members in groups.items():
        attempts = max(m.attempts for m in members) + 1
        first = min((m.first_attempt_at for m in members if m.first_attempt_at is not None), default=now)
        report.deliveries.append(
            Delivery(
                kind=members[0].kind,
                retry_key=key,
                row_ids=tuple(m.id for m in members),
                to=tuple(str(m.line_user_id) for m in members),
                payload=payloads[key],
                attempts=attempts,
                first_attempt_at=first,
            )
        )
        claimed.extend(m.id for m in members)
    if claimed:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(claimed))
            .values(
                state="sending",
                next_attempt_at=now + lease,
                attempts=OutboxMessage.attempts + 1,
                first_attempt_at=func.coalesce(OutboxMessage.first_attempt_at, now),
            )
        )
    return report


# -- recording what LINE answered --------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery's rows.

    ``state``: ``sent``, ``pending`` (retry at ``next_attempt_at``), ``failed`` or ``over_quota``.
    """

    row_ids: tuple[int, ...]
    state: str
    error: str | None = None
    request_id: str | None = None
    next_attempt_at: datetime | None = None


_TABLE = cast(Any, OutboxMessage.__table__)


def record_outcomes(session: Session, outcomes: Sequence[Outcome], now: datetime) -> int:
    """Write many outcomes in a few statements; returns how many rows changed.

    Only rows still ``sending`` change: if this sender's lease ran out and another sender
    took the rows over, whatever that one records stands. The exception: ``sent`` also
    replaces ``cancelled`` (the game was postponed while the message was on its way, and
    LINE accepted it all the same: the report must say it went out).
    """
    params: dict[str, list[dict[str, Any]]] = {}
    for outcome in outcomes:
        if outcome.state not in ("sent", "pending", "failed", "over_quota"):
            raise ValueError(f"not an outcome state: {outcome.state!r}")
        if outcome.state == "pending" and outcome.next_attempt_at is None:
            raise ValueError("a retry needs next_attempt_at")
        for row_id in outcome.row_ids:
            params.setdefault(outcome.state, []).append(
                {
                    "row_id": row_id,
                    "new_state": outcome.state,
                    "error": None if outcome.error is None else outcome.error[:1000],
                    "request_id": outcome.request_id,
                    "next_at": outcome.next_attempt_at or now,
                }
            )
    changed = 0
    for state, rows in params.items():
        values: dict[str, Any] = {"state": bindparam("new_state"), "last_error": bindparam("error")}
        if state == "sent":
            values |= {"sent_at": now, "accepted_request_id": bindparam("request_id")}
        else:
            values["next_attempt_at"] = bindparam("next_at")
        live = _TABLE.c.state == "sending"
        if state == "sent":
            live = or_(live, _TABLE.c.state == "cancelled")  # (no IN: this runs as executemany)
        statement = update(_TABLE).where(_TABLE.c.id == bindparam("row_id"), live).values(**values)
        result = session.connection().execute(statement, rows)
        changed += max(0, result.rowcount or 0)
    return changed


# -- the monthly quota ----------------------------------------------------------------------


def plan_quota(session: Session, remaining: int, *, reason: str) -> int:
    """Keep the pending rows that fit in ``remaining`` messages, best-scored first; the rest
    become ``over_quota`` with ``reason``. Returns how many were set aside.

    Rows that may already have reached LINE (being sent now, or retried after an answer
    that was lost) count against ``remaining`` first and are never set aside: putting them
    back next month could deliver them twice.
    """
    in_flight = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            or_(
                OutboxMessage.state == "sending",
                and_(OutboxMessage.state == "pending", OutboxMessage.attempts > 0),
            )
        )
    )
    budget = max(0, remaining - int(in_flight or 0))
    fresh = and_(OutboxMessage.state == "pending", OutboxMessage.attempts == 0)
    waiting = session.scalar(select(func.count()).select_from(OutboxMessage).where(fresh)) or 0
    if waiting <= budget:
        return 0
    keep = (
        select(OutboxMessage.id)
        .where(fresh)
        .order_by(OutboxMessage.priority.desc(), OutboxMessage.id)
        .limit(budget)
    )
    result = cast(
        CursorResult[Any],
        session.execute(
            update(OutboxMessage)
            .where(fresh, OutboxMessage.id.not_in(keep))
            .values(state="over_quota", last_error=reason)
            .execution_options(synchronize_session=False)
        ),
    )
    _ungroup_over_quota(session)
    return int(result.rowcount or 0)


def stop_for_quota(session: Session, *, reason: str) -> int:
    """LINE said the month's quota is used up: every pending row becomes ``over_quota``."""
    result = cast(
        CursorResult[Any],
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.state == "pending")
            .values(state="over_quota", last_error=reason)
            .execution_options(synchronize_session=False)
        ),
    )
    _ungroup_over_quota(session)
    return int(result.rowcount or 0)


def _ungroup_over_quota(session: Session) -> None:
    # Set-aside multicast rows leave their batch (the rest of it may still go out without
    # them); `requeue_over_quota` gives them new batches and new keys.
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.state == "over_quota",
            OutboxMessage.kind == "multicast",
            OutboxMessage.batch_key.is_not(None),
        )
        .values(batch_key=None)
        .execution_options(synchronize_session=False)
    )


def requeue_over_quota(session: Session, now: datetime, *, campaign_id: int | None = None) -> int:
    """Put ``over_quota`` rows back in the queue (a new month, a bigger plan); returns how many.

    Multicast rows are grouped into new batches of at most 500 by payload, best-scored first,
    each with a new key (the old one was never accepted: LINE refused it, or it was never sent).
    """
    query = select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.payload).where(
        OutboxMessage.state == "over_quota"
    )
    if campaign_id is not None:
        query = query.where(OutboxMessage.campaign_id == campaign_id)
    rows = session.execute(query.order_by(OutboxMessage.priority.desc(), OutboxMessage.id)).all()
    groups: dict[str, list[Any]] = {}
    for row in rows:
        if row.kind == "multicast":
            groups.setdefault(row.payload, []).append(row)
    batch_params: list[dict[str, Any]] = []
    for members in groups.values():
        for start in range(0, len(members), MAX_MULTICAST_RECIPIENTS):
            batch_key = str(uuid.uuid4())
            batch_params.extend(
                {"row_id": m.id, "key": batch_key} for m in members[start : start + MAX_MULTICAST_RECIPIENTS]
            )
    if batch_params:
        session.connection().execute(
            update(_TABLE).where(_TABLE.c.id == bindparam("row_id")).values(batch_key=bindparam("key")),
            batch_params,
        )
    ids = [row.id for row in rows]
    for start in range(0, len(ids), _INSERT_CHUNK):
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids[start : start + _INSERT_CHUNK]), OutboxMessage.state == "over_quota"
            )
            .values(state="pending", next_attempt_at=now, last_error=None)
            .execution_options(synchronize_session=False)
        )
    return len(ids)


# -- cancelling ---------------------------------------------------------------------------------


_CANCELLABLE = ("pending", "sending", "over_quota")


def cancel_game(session: Session, game_id: int, *, reason: str) -> int:
    """The game's messages not sent yet will not be: ``cancelled`` with ``reason``; returns how many.

    Pending, held back by the quota, or being sent: a sender holding one of those may still
    record it ``sent`` (`record_outcomes`), the truth if LINE accepted it; every other answer
    leaves it cancelled, and a cancelled row is never claimed again. Sent rows stay sent. A
    sender draining at this moment still sends the rows it has already claimed (at most one
    claim, `SenderPolicy.claim_size` requests, per sender); those are reported ``sent``.
    """
    result = cast(
        CursorResult[Any],
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.game_id == game_id, OutboxMessage.state.in_(_CANCELLABLE))
            .values(state="cancelled", last_error=reason)
            .execution_options(synchronize_session=False)
        ),
    )
    return int(result.rowcount or 0)


# -- reading and forgetting -------------------------------------------------------------------


def count_by_state(
    session: Session, *, campaign_id: int | None = None, game_id: int | None = None
) -> dict[str, int]:
    """How many rows are in each state (every state present, zero when none)."""
    query = select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
    if campaign_id is not None:
        query = query.where(OutboxMessage.campaign_id == campaign_id)
    if game_id is not None:
        query = query.where(OutboxMessage.game_id == game_id)
    counts = dict.fromkeys(OUTBOX_STATES, 0)
    counts.update({str(state): int(number) for state, number in session.execute(query).tuples()})
    return counts


def forget_fan(session: Session, fan_id: int) -> None:
    """A fan deleted their data: no row keeps their LINE user id or personal message text, and
    their unsent messages will not go out (the rows stay, for the counts in reports).

    A pending multicast row stays pending without a recipient, so its batch keeps its head;
    the claim drops it. Its payload is the same for everyone, so it is kept for the batch.
    """
    mine = OutboxMessage.fan_id == fan_id
    session.execute(
        update(OutboxMessage)
        .where(
            mine,
            or_(
                OutboxMessage.state == "over_quota",
                and_(OutboxMessage.state == "pending", OutboxMessage.kind == "push"),
            ),
        )
        .values(state="dropped", last_error="the fan deleted their data")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxMessage)
        .where(mine)
        .values(line_user_id=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxMessage)
        .where(mine, OutboxMessage.kind == "push")
        .values(payload="[]")
        .execution_options(synchronize_session=False)
    )
