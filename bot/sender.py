"""The push sender: drains the outbox (`data.outbox`) to LINE, exactly once, within LINE's limits.

One `Sender.drain` call is one bounded unit of work: it reads the month's quota, sets aside
what does not fit (best-scored fans first), then claims due rows in batches and sends them
through `bot.line_client.BulkLine` until no due row is left, and returns a `DrainReport`.

How it keeps its promises:

- **Exactly once.** Each request carries its row's (or multicast batch's) retry key. A 409
  with ``x-line-accepted-request-id`` means an earlier attempt got through: counted as sent,
  once. Talking to LINE happens between database transactions, never inside one: claim
  (commit), send, record (commit). A sender killed in between leaves rows ``sending``; their
  lease runs out and a later drain sends them again under the same keys, which LINE answers
  with 409 for anything it already accepted.
- **Within the rate limits.** One token bucket per API (push 1,900/s, multicast 190/s by
  default, `Settings.sender_push_rate` / `sender_multicast_rate`), shared by the requests in
  flight (`Settings.sender_connections`). A 429 rate-limit answer also pauses the bucket
  briefly, so a storm of them is not answered with more of the same.
- **Retries.** 429, 5xx and timeouts: the row goes back to ``pending`` with
  ``next_attempt_at`` after an exponential backoff with jitter (LINE sends no Retry-After);
  the drain does not wait for it, a later drain sends it. Other 4xx: ``failed`` with
  LINE's reason. A 429 "You have reached your monthly limit." is no rate limit: the drain
  stops, and every row not yet sent becomes ``over_quota`` (reported, and put back with
  ``fanbot sender requeue``).
- **Coupons.** The coupons a message carries get ``sent_at`` in the transaction that
  records it sent (`coupons.outbox.mark_sent`), 409s included.
- **The database going away.** Outcomes are kept in memory and written in batches; a write
  or claim that fails is retried with backoff for `SenderPolicy.database_patience` seconds,
  while the requests already claimed go on. If the database stays away the drain ends with
  `DatabaseUnavailableError`; nothing is lost, since unrecorded rows are still ``sending`` and are
  sent again (and answered 409) after their lease.

Time comes from injected clocks (``clock`` for database times, ``monotonic``/``sleep`` for
pacing), so tests drive backoff and rate limits without waiting.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.line_client import BulkLine, LineApiError, LineClient, MessageQuota
from bot.metrics import SENDS, log_event
from bot.settings import Settings
from coupons.outbox import mark_sent
from data.outbox import (
    ClaimReport,
    Delivery,
    Outcome,
    claim_batch,
    plan_quota,
    record_outcomes,
    stop_for_quota,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


_METRIC_OUTCOMES = {"sent": "sent", "pending": "retry", "failed": "failed", "over_quota": "over_quota"}


class DatabaseUnavailableError(RuntimeError):
    """The database stayed unreachable longer than the sender's patience."""


@dataclass(frozen=True)
class SenderPolicy:
    """How hard the sender pushes and how it backs off."""

    push_rate: float = 1900.0
    multicast_rate: float = 190.0
    connections: int = 32
    # Requests claimed per transaction (a multicast batch counts once).
    claim_size: int = 500
    # Outcomes written per transaction.
    flush_size: int = 500
    lease: timedelta = timedelta(minutes=2)
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 600.0
    # After a 429 rate-limit answer nobody sends for this long.
    rate_limited_pause_seconds: float = 0.1
    # How long database failures are retried before the drain gives up.
    database_patience_seconds: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SenderPolicy:
        return cls(
            push_rate=settings.sender_push_rate,
            multicast_rate=settings.sender_multicast_rate,
            connections=settings.sender_connections,
            lease=timedelta(seconds=settings.sender_lease_seconds),
        )


def backoff_seconds(attempts: int, policy: SenderPolicy, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half of ``base * 2^(attempts-1)`` (capped) for
    sure, plus up to the other half at random, so retries of many rows spread out."""
    ceiling = min(policy.backoff_cap_seconds, policy.backoff_base_seconds * 2.0 ** max(0, attempts - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


class TokenBucket:
    """Paces requests to ``rate`` per second, allowing a burst of ``burst``.

    `reserve` takes a token and says how long to wait before using it, so many coroutines can
    share one bucket without a lock held across the wait. Thread-safe.
    """

    def __init__(self, rate: float, burst: float | None = None, *, monotonic: Callable[[], float]) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 100)
        self._monotonic = monotonic
        self._tokens = self.burst
        self._updated = monotonic()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        with self._lock:
            now = self._monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def pause(self, seconds: float) -> None:
        """Nobody gets a token for ``seconds`` from now (beyond what is already reserved)."""
        with self._lock:
            now = self._monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens = min(self._tokens, -seconds * self.rate)


@dataclass
class DrainReport:
    """What one drain did; message counts are rows (one per fan), request counts are requests."""

    sent: int = 0
    already_accepted: int = 0  # of ``sent``: LINE had accepted them before (409)
    retry_later: int = 0
    failed: int = 0
    over_quota: int = 0
    dropped: int = 0
    gave_up: int = 0  # retried until their retry key would expire
    requests: int = 0
    rate_limited: int = 0  # 429 rate-limit answers
    server_errors: int = 0  # 5xx answers
    transport_errors: int = 0  # timeouts, refused connections
    database_errors: int = 0  # failed database calls that were retried
    quota_limit: int | None = None
    quota_used: int | None = None
    quota_stopped: bool = False
    failure_reasons: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def add(self, other: DrainReport) -> None:
        """Fold a later drain's report into this one (for several passes in a row)."""
        for name in (
            "sent",
            "already_accepted",
            "retry_later",
            "failed",
            "over_quota",
            "dropped",
            "gave_up",
            "requests",
            "rate_limited",
            "server_errors",
            "transport_errors",
            "database_errors",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if self.quota_limit is None:
            self.quota_limit, self.quota_used = other.quota_limit, other.quota_used
        self.quota_stopped = self.quota_stopped or other.quota_stopped
        self.failure_reasons.update(other.failure_reasons)
        self.seconds += other.seconds

    def summary(self) -> str:
        lines = [
            f"sent {self.sent} messages ({self.already_accepted} of them already accepted by LINE, 409), "
            f"retry later {self.retry_later}, failed {self.failed}, over quota {self.over_quota}, "
            f"dropped {self.dropped} (fan not reachable), gave up {self.gave_up}",
            f"{self.requests} requests in {self.seconds:.1f} s: {self.rate_limited} rate-limited (429), "
            f"{self.server_errors} server errors (5xx), "
            f"{self.transport_errors} timeouts or connection errors",
        ]
        if self.quota_limit is not None:
            lines.append(f"monthly quota: {self.quota_used} of {self.quota_limit} used before this drain")
        if self.quota_stopped:
            lines.append("stopped: LINE says the monthly limit is reached; the rest is over quota")
        for reason, count in self.failure_reasons.most_common():
            lines.append(f"failed x{count}: {reason}")
        if self.database_errors:
            lines.append(f"database errors retried: {self.database_errors}")
        return "\n".join(lines)


QuotaReader = Callable[[], MessageQuota]
LineFactory = Callable[[], BulkLine]


class Sender:
    """Drains the outbox of one database through LINE. Make one per process; `drain` is reusable."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        clock: Clock,
        policy: SenderPolicy | None = None,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        quota: QuotaReader | None = None,
        line: LineFactory | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.policy = policy or SenderPolicy.from_settings(settings)
        self.rng = rng or random.Random()
        self.monotonic = monotonic
        self.sleep = sleep
        self._quota = quota or self._read_quota
        self._line = line or (lambda: BulkLine(settings, connections=self.policy.connections))

    def drain(self, *, limit: int | None = None) -> DrainReport:
        """Send every due message (at most ``limit`` requests); returns what happened."""
        return asyncio.run(self.drain_async(limit=limit))

    def _read_quota(self) -> MessageQuota:
        client = LineClient(self.settings)
        try:
            return client.message_quota()
        finally:
            client.close()

    async def drain_async(self, *, limit: int | None = None) -> DrainReport:
        started = self.monotonic()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sender-db") as database:
            run = _Drain(self, database, limit)
            try:
                await run.run()
            finally:
                run.report.seconds = self.monotonic() - started
        report = run.report
        log_event(
            "outbox_drain",
            sent=report.sent,
            already_accepted=report.already_accepted,
            retry_later=report.retry_later,
            failed=report.failed,
            over_quota=report.over_quota,
            dropped=report.dropped,
            requests=report.requests,
            rate_limited=report.rate_limited,
            quota_stopped=report.quota_stopped,
            seconds=round(report.seconds, 2),
        )
        return report


def _claim(session: Session, *, size: int, now: datetime, version: str, lease: timedelta) -> ClaimReport:
    return claim_batch(session, size, now, consent_version=version, lease=lease)


def _record(session: Session, *, outcomes: list[Outcome], now: datetime) -> int:
    """What LINE answered, and the coupons of the messages it accepted: sent (one transaction)."""
    changed = record_outcomes(session, outcomes, now)
    mark_sent(session, [row_id for o in outcomes if o.state == "sent" for row_id in o.row_ids], now)
    return changed


class _Drain:
    """The state of one drain: claimed work flowing to workers, outcomes flowing back."""

    def __init__(self, sender: Sender, database: ThreadPoolExecutor, limit: int | None) -> None:
        self.sender = sender
        self.policy = sender.policy
        self.database = database
        self.limit = limit
        self.report = DrainReport()
        self.budget: int | None = None  # messages left this month, as far as this drain knows
        self.queue: asyncio.Queue[Delivery | None] = asyncio.Queue(maxsize=self.policy.claim_size)
        self.outcomes: list[Outcome] = []
        self.flush_wanted = asyncio.Event()
        self.quota_stop = False
        self.producing = True
        self.buckets = {
            "push": TokenBucket(self.policy.push_rate, monotonic=sender.monotonic),
            "multicast": TokenBucket(self.policy.multicast_rate, monotonic=sender.monotonic),
        }

    # -- the database, one thread, with retries ------------------------------------------------

    async def _db(self, work: Callable[[Session], T]) -> T:
        loop = asyncio.get_running_loop()
        waited = 0.0
        attempt = 0
        while True:
            try:
                return await loop.run_in_executor(self.database, self._transaction, work)
            except (OperationalError, DBAPIError) as error:
                if isinstance(error, DBAPIError) and not (
                    isinstance(error, OperationalError) or error.connection_invalidated
                ):
                    raise
                attempt += 1
                self.report.database_errors += 1
                delay = min(5.0, 0.05 * 2**attempt)
                if waited + delay > self.policy.database_patience_seconds:
                    raise DatabaseUnavailableError(
                        f"database unavailable: {type(error.orig).__name__}"
                    ) from error
                log.warning(
                    "outbox database call failed (%s); retrying in %.2f s", type(error.orig).__name__, delay
                )
                waited += delay
                await self.sender.sleep(delay)

    def _transaction(self, work: Callable[[Session], T]) -> T:
        with self.sender.sessions() as session, session.begin():
            return work(session)

    # -- the drain ---------------------------------------------------------------------------

    async def run(self) -> None:
        await self._plan_quota()
        async with self.sender._line() as line:
            workers = [asyncio.create_task(self._work(line)) for _ in range(self.policy.connections)]
            flusher = asyncio.create_task(self._flush_loop())
            try:
                await self._produce()
            finally:
                for _ in workers:
                    await self.queue.put(None)
                results = await asyncio.gather(*workers, return_exceptions=True)
                self.producing = False
                self.flush_wanted.set()
                await flusher
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        if self.quota_stop:
            reason = "LINE: You have reached your monthly limit."
            self.report.over_quota += await self._db(lambda s: stop_for_quota(s, reason=reason))

    async def _plan_quota(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            quota = await loop.run_in_executor(None, self.sender._quota)
        except LineApiError as error:
            # LINE refuses past the quota anyway (and we stop on that answer); not knowing it
            # only means the best-scored-first choice cannot be made up front.
            log.warning("could not read the monthly quota (%s); sending without a plan", error)
            return
        self.report.quota_limit, self.report.quota_used = quota.limit, quota.used
        remaining = quota.remaining
        if remaining is None:
            return
        self.budget = remaining
        reason = f"monthly quota: {remaining} of {quota.limit} messages left when the send was planned"
        self.report.over_quota += await self._db(lambda s: plan_quota(s, remaining, reason=reason))

    async def _produce(self) -> None:
        claimed = 0
        consent_version = self.sender.settings.consent_version
        while not self.quota_stop and (self.limit is None or claimed < self.limit):
            size = (
                self.policy.claim_size
                if self.limit is None
                else min(self.policy.claim_size, self.limit - claimed)
            )
            batch = await self._db(
                functools.partial(
                    _claim,
                    size=size,
                    now=self.sender.clock(),
                    version=consent_version,
                    lease=self.policy.lease,
                )
            )
            self.report.dropped += batch.dropped
            self.report.gave_up += batch.expired
            if not batch.deliveries:
                return
            claimed += len(batch.deliveries)
            for delivery in batch.deliveries:
                await self.queue.put(delivery)

    async def _work(self, line: BulkLine) -> None:
        while (delivery := await self.queue.get()) is not None:
            outcome = await self._send(line, delivery)
            SENDS.labels(kind=delivery.kind, outcome=_METRIC_OUTCOMES[outcome.state]).inc(
                len(delivery.row_ids)
            )
            self.outcomes.append(outcome)
            if len(self.outcomes) >= self.policy.flush_size:
                self.flush_wanted.set()

    async def _send(self, line: BulkLine, delivery: Delivery) -> Outcome:
        recipients = len(delivery.row_ids)
        if self.quota_stop:
            self.report.over_quota += recipients
            return Outcome(delivery.row_ids, "over_quota", "LINE: You have reached your monthly limit.")
        if self.budget is not None:
            if self.budget < recipients:
                self.report.over_quota += recipients
                return Outcome(delivery.row_ids, "over_quota", "monthly quota used up during the send")
            self.budget -= recipients
        bucket = self.buckets[delivery.kind]
        delay = bucket.reserve()
        if delay > 0:
            await self.sender.sleep(delay)
        self.report.requests += 1
        try:
            if delivery.kind == "multicast":
                result = await line.multicast(delivery.to, delivery.payload, delivery.retry_key)
            else:
                result = await line.push(delivery.to[0], delivery.payload, delivery.retry_key)
        except LineApiError as error:
            return self._failure(delivery, error, bucket)
        self.report.sent += recipients
        if result.already_accepted:
            self.report.already_accepted += recipients
        return Outcome(delivery.row_ids, "sent", request_id=result.request_id)

    def _failure(self, delivery: Delivery, error: LineApiError, bucket: TokenBucket) -> Outcome:
        recipients = len(delivery.row_ids)
        if self.budget is not None:
            self.budget += recipients  # nothing was counted against the quota
        if error.quota_exhausted:
            self.quota_stop = True
            self.report.quota_stopped = True
            self.report.over_quota += recipients
            return Outcome(delivery.row_ids, "over_quota", f"LINE: {error.message}")
        if error.retryable:
            if error.status == 429:
                self.report.rate_limited += 1
                bucket.pause(self.policy.rate_limited_pause_seconds)
            elif error.status is None:
                self.report.transport_errors += 1
            else:
                self.report.server_errors += 1
            delay = backoff_seconds(delivery.attempts, self.policy, self.sender.rng)
            self.report.retry_later += recipients
            return Outcome(
                delivery.row_ids,
                "pending",
                str(error),
                next_attempt_at=self.sender.clock() + timedelta(seconds=delay),
            )
        self.report.failed += recipients
        self.report.failure_reasons[str(error)] += recipients
        return Outcome(delivery.row_ids, "failed", str(error))

    async def _flush_loop(self) -> None:
        while True:
            await self.flush_wanted.wait()
            self.flush_wanted.clear()
            await self._flush()
            if not self.producing and not self.outcomes:
                return

    async def _flush(self) -> None:
        while self.outcomes:
            taken, self.outcomes = self.outcomes, []
            try:
                await self._db(functools.partial(_record, outcomes=taken, now=self.sender.clock()))
            except BaseException:
                self.outcomes[:0] = taken  # still unrecorded: the rows stay "sending"
                raise
