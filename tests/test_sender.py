"""The sender against the LINE emulator: every fan gets each message exactly once, whatever fails.

Faults come from the emulator (`state.inject_failures`, `state.inject_stall`, its quota), from
a database that goes away for a while, and from a second sender. Time is driven by hand: the
frozen ``clock`` decides when a retry is due; ``FakeTime`` stands in for the rate limiter's
monotonic clock and sleep, so nothing here waits on real time.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from linebot.v3.messaging import TextMessage
from sqlalchemy import Engine, event, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.line_client import BulkLine, MessageQuota, SendResult, serialize_messages
from bot.sender import DrainReport, Sender, SenderPolicy, TokenBucket, backoff_seconds
from bot.settings import Settings
from data.database import make_engine, make_session_factory
from data.models import Fan
from data.outbox import OutboxItem, OutboxMessage, count_by_state, enqueue, requeue_over_quota
from tests.conftest import FrozenClock, RunningEmulator

PUSH = "/v2/bot/message/push"
MULTICAST = "/v2/bot/message/multicast"
POLICY = SenderPolicy(connections=8, backoff_base_seconds=1.0)


class FakeTime:
    """The rate limiter's clock: sleeping moves it forward at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class Outbox:
    """The database and emulator side of a test: fans on both, messages queued, a sender."""

    engine: Engine
    sessions: sessionmaker[Session]
    emulator: RunningEmulator
    settings: Settings
    clock: FrozenClock
    time: FakeTime

    def fans(self, count: int) -> list[Fan]:
        users = [self.emulator.state.create_user(f"ファン{i}").user_id for i in range(count)]
        for user in users:
            self.emulator.state.set_following(user, True)
        now = self.clock()
        with self.sessions() as session, session.begin():
            session.execute(
                insert(Fan),
                [
                    {
                        "line_user_id": user,
                        "source": "line",
                        "consented_at": now - timedelta(days=1),
                        "consent_version": self.settings.consent_version,
                        "is_following": True,
                        "created_at": now,
                    }
                    for user in users
                ],
            )
        with self.sessions() as session:
            found = session.scalars(select(Fan).where(Fan.line_user_id.in_(users))).all()
            return sorted(found, key=lambda f: f.id)

    def enqueue(
        self, fans: Sequence[Fan], *, personal: bool = True, priority: Callable[[int], float] | None = None
    ) -> None:
        items = [
            OutboxItem(
                fan_id=fan.id,
                line_user_id=str(fan.line_user_id),
                payload=coupon(fan) if personal else SHARED,
                priority=priority(i) if priority else 0.0,
                personal=personal,
            )
            for i, fan in enumerate(fans)
        ]
        with self.sessions() as session, session.begin():
            enqueue(session, items, self.clock())

    def sender(self, **overrides: Any) -> Sender:
        options: dict[str, Any] = {
            "clock": self.clock,
            "policy": POLICY,
            "rng": random.Random(8),
            "monotonic": self.time.monotonic,
            "sleep": self.time.sleep,
            **overrides,
        }
        return Sender(self.sessions, self.settings, **options)

    def drain(self, **overrides: Any) -> DrainReport:
        return self.sender(**overrides).drain()

    def rows(self) -> list[OutboxMessage]:
        with self.sessions() as session:
            return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    def states(self) -> dict[str, int]:
        with self.sessions() as session:
            return {k: v for k, v in count_by_state(session).items() if v}

    def received(self, fan: Fan) -> list[dict[str, Any]]:
        return self.emulator.state.messages_for(str(fan.line_user_id))

    def requests(self, path: str) -> list[Any]:
        return [r for r in self.emulator.state.requests if r.path == path]


def coupon(fan: Fan) -> str:
    return serialize_messages([TextMessage(text=f"試合おつかれさまでした！クーポン番号 {fan.id:06d}")])


SHARED = serialize_messages([TextMessage(text="本日もご来場ありがとうございました！")])


def expected(fan: Fan) -> list[dict[str, Any]]:
    return json.loads(coupon(fan))  # type: ignore[no-any-return]


@pytest.fixture
def outbox(
    database_url: str, settings: Settings, emulator: RunningEmulator, clock: FrozenClock
) -> Iterator[Outbox]:
    engine = make_engine(database_url)
    yield Outbox(engine, make_session_factory(engine), emulator, settings, clock, FakeTime())
    engine.dispose()
    assert emulator.state.violations == []


# -- the ordinary case -----------------------------------------------------------------------


def test_every_queued_message_reaches_its_fan_once_with_its_retry_key(outbox: Outbox) -> None:
    fans = outbox.fans(12)
    outbox.enqueue(fans)

    report = outbox.drain()

    assert [outbox.received(f) for f in fans] == [expected(f) for f in fans]
    assert (report.sent, report.requests, report.already_accepted) == (12, 12, 0)
    assert outbox.states() == {"sent": 12}
    keys = {r.retry_key for r in outbox.rows()}
    assert {r.headers["X-Line-Retry-Key"] for r in outbox.requests(PUSH)} == keys
    assert all(r.accepted_request_id and r.sent_at == outbox.clock() for r in outbox.rows())


def test_identical_messages_for_everyone_go_out_as_multicast(outbox: Outbox) -> None:
    fans = outbox.fans(7)
    outbox.enqueue(fans, personal=False)

    report = outbox.drain()

    (request,) = outbox.requests(MULTICAST)
    assert sorted(request.json["to"]) == sorted(str(f.line_user_id) for f in fans)
    assert request.headers["X-Line-Retry-Key"] == outbox.rows()[0].batch_key
    assert [outbox.received(f) for f in fans] == [json.loads(SHARED)] * 7
    assert (report.sent, report.requests) == (7, 1)
    assert outbox.requests(PUSH) == []


def test_a_fan_who_opted_out_after_the_message_was_queued_is_not_pushed(outbox: Outbox) -> None:
    stays, leaves = outbox.fans(2)
    outbox.enqueue([stays, leaves])
    with outbox.sessions() as session, session.begin():
        session.get_one(Fan, leaves.id).opted_out_at = outbox.clock()

    report = outbox.drain()

    assert outbox.received(stays) == expected(stays)
    assert outbox.received(leaves) == []
    assert (report.sent, report.dropped) == (1, 1)
    assert outbox.states() == {"sent": 1, "dropped": 1}


def test_a_refused_message_is_failed_with_lines_reason_and_not_retried(outbox: Outbox) -> None:
    (fan,) = outbox.fans(1)
    # A LINE user id the platform does not know for this channel.
    with outbox.sessions() as session, session.begin():
        session.get_one(Fan, fan.id).line_user_id = "U" + "0" * 32
    fan.line_user_id = "U" + "0" * 32
    outbox.enqueue([fan])

    report = outbox.drain()
    outbox.clock.advance(hours=1)
    again = outbox.drain()

    assert report.failed == 1
    assert report.failure_reasons == Counter({"LINE API error 400: Failed to send messages": 1})
    (row,) = outbox.rows()
    assert (row.state, row.last_error) == ("failed", "LINE API error 400: Failed to send messages")
    assert again.requests == 0


# -- LINE failing -----------------------------------------------------------------------------


def test_500_then_200_for_the_same_retry_key_delivers_one_message(outbox: Outbox) -> None:
    (fan,) = outbox.fans(1)
    outbox.enqueue([fan])
    outbox.emulator.state.inject_failures(PUSH, [500])

    first = outbox.drain()
    (row,) = outbox.rows()
    not_yet = outbox.drain()  # the retry is not due yet
    outbox.clock.current = row.next_attempt_at
    second = outbox.drain()

    assert (first.server_errors, first.retry_later, first.sent) == (1, 1, 0)
    assert (
        row.state == "pending"
        and row.last_error == "LINE API error 500: An error occurred in the backend server"
    )
    # First retry: 0.5 to 1 s later (equal jitter on a 1 s base).
    assert timedelta(seconds=0.5) <= row.next_attempt_at - first_attempt(row) <= timedelta(seconds=1)
    assert not_yet.requests == 0
    assert (second.sent, second.already_accepted) == (1, 0)
    assert outbox.received(fan) == expected(fan)
    assert len({r.headers["X-Line-Retry-Key"] for r in outbox.requests(PUSH)}) == 1
    assert [r.status for r in outbox.requests(PUSH)] == [500, 200]


def first_attempt(row: OutboxMessage) -> datetime:
    assert row.first_attempt_at is not None
    return row.first_attempt_at


def test_a_429_storm_is_backed_off_ever_longer_and_every_fan_gets_one_message(outbox: Outbox) -> None:
    fans = outbox.fans(6)
    outbox.enqueue(fans)
    # 429 for every request of the first three rounds, whatever order they come in.
    outbox.emulator.state.inject_failures(PUSH, [429] * 18)

    delays: list[list[float]] = []
    reports = []
    for _ in range(8):
        reports.append(outbox.drain())
        pending = [r for r in outbox.rows() if r.state == "pending"]
        if not pending:
            break
        delays.append([(r.next_attempt_at - outbox.clock()).total_seconds() for r in pending])
        outbox.clock.current = max(r.next_attempt_at for r in pending)

    assert [outbox.received(f) for f in fans] == [expected(f) for f in fans]
    assert sum(r.rate_limited for r in reports) == 18
    assert outbox.states() == {"sent": 6}
    # Each round waited within its backoff window: 0.5-1 s, then 1-2 s, then 2-4 s.
    assert [
        (min(d) >= low and max(d) <= high)
        for d, (low, high) in zip(delays, [(0, 1), (0, 2), (0, 4)], strict=False)
    ] == [True] * 3
    assert max(delays[2]) > max(delays[0])


def test_after_a_429_the_sender_holds_back_before_its_next_request(outbox: Outbox) -> None:
    fans = outbox.fans(3)
    outbox.enqueue(fans)
    outbox.emulator.state.inject_failures(PUSH, [429])

    report = outbox.drain(policy=SenderPolicy(connections=1))

    assert (report.rate_limited, report.sent) == (1, 2)
    # One request at a time: the two after the 429 waited out the pause instead of firing at once.
    assert sum(outbox.time.slept) >= SenderPolicy().rate_limited_pause_seconds


def test_a_timeout_after_line_accepted_is_retried_answered_409_and_counted_once(
    outbox: Outbox, emulator: RunningEmulator
) -> None:
    (fan,) = outbox.fans(1)
    outbox.enqueue([fan])
    outbox.settings = outbox.settings.with_overrides(line_timeout_seconds=0.3)
    release = emulator.state.inject_stall(PUSH)

    first = outbox.drain()
    release.set()
    outbox.clock.current = outbox.rows()[0].next_attempt_at
    second = outbox.drain()

    assert (first.transport_errors, first.retry_later, first.sent) == (1, 1, 0)
    assert (second.sent, second.already_accepted) == (1, 1)
    assert outbox.received(fan) == expected(fan)
    assert [r.status for r in outbox.requests(PUSH)] == [200, 409]
    (row,) = outbox.rows()
    assert row.state == "sent"
    assert row.accepted_request_id == outbox.requests(PUSH)[0].request_id  # the first request's id


# -- the monthly quota --------------------------------------------------------------------------


def test_a_short_quota_sends_the_best_scored_fans_and_holds_the_rest_back(outbox: Outbox) -> None:
    fans = outbox.fans(6)
    scores = [0.2, 0.9, 0.4, 0.8, 0.1, 0.7]
    outbox.emulator.state.set_message_quota(3)
    outbox.enqueue(fans, priority=lambda i: scores[i])

    report = outbox.drain()

    reached = [bool(outbox.received(f)) for f in fans]
    assert reached == [False, True, False, True, False, True]
    assert (report.sent, report.over_quota, report.quota_limit, report.quota_used) == (3, 3, 3, 0)
    assert outbox.states() == {"sent": 3, "over_quota": 3}
    held = [r for r in outbox.rows() if r.state == "over_quota"]
    assert {r.last_error for r in held} == {"monthly quota: 3 of 3 messages left when the send was planned"}


def test_the_quota_running_out_mid_send_stops_the_send_and_holds_the_rest_back(outbox: Outbox) -> None:
    fans = outbox.fans(10)
    outbox.enqueue(fans)
    # The quota read before the send said there was room; something else used it up since.
    outbox.emulator.state.set_message_quota(4)
    stale = MessageQuota(limit=1000, used=0)

    report = outbox.drain(quota=lambda: stale)

    delivered = [f for f in fans if outbox.received(f)]
    assert len(delivered) == 4
    assert all(outbox.received(f) == expected(f) for f in delivered)
    assert report.quota_stopped
    assert (report.sent, report.over_quota, report.failed, report.dropped) == (4, 6, 0, 0)
    assert outbox.states() == {"sent": 4, "over_quota": 6}

    # Next month: the held-back messages go out, and nobody gets one twice.
    outbox.emulator.state.set_message_quota(1000)
    with outbox.sessions() as session, session.begin():
        assert requeue_over_quota(session, outbox.clock()) == 6
    later = outbox.drain()

    assert later.sent == 6
    assert [outbox.received(f) for f in fans] == [expected(f) for f in fans]


# -- the database going away ------------------------------------------------------------------


SENDER_APP = "fanbot-sender-under-test"


class Outage:
    """Every statement fails, as if the database went away, from `start` until `failures`
    statements have failed; on PostgreSQL the sender's connections are also really killed."""

    def __init__(self, engine: Engine, failures: int) -> None:
        self.engine = engine
        self.remaining = 0
        self.failures = failures
        self.started = threading.Event()
        event.listen(engine, "before_cursor_execute", self._before)

    def start(self) -> None:
        if self.started.is_set():
            return
        self.started.set()
        self.remaining = self.failures
        if self.engine.dialect.name == "postgresql":
            url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(url, autocommit=True) as killer:
                killer.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = %s",
                    (SENDER_APP,),
                )

    def _before(self, *_: Any) -> None:
        if self.remaining > 0:
            self.remaining -= 1
            raise OperationalError("SELECT 1", {}, ConnectionError("the database went away"))


def test_the_database_away_for_a_while_loses_nothing_and_duplicates_nothing(
    database_url: str, outbox: Outbox
) -> None:
    postgres = database_url.startswith("postgresql")
    engine = make_engine(
        database_url, **({"connect_args": {"application_name": SENDER_APP}} if postgres else {})
    )
    outbox.sessions = make_session_factory(engine)
    outage = Outage(engine, failures=4)
    fans = outbox.fans(30)
    outbox.enqueue(fans)
    pushes = 0

    @outbox.emulator.app.before_request
    def _cut_the_database() -> None:
        nonlocal pushes
        pushes += 1
        if pushes == 5:  # mid-send: the next claim and the outcome writes fail for a while
            outage.start()

    try:
        report = outbox.drain(policy=SenderPolicy(connections=4, claim_size=5, flush_size=5))
        # Whatever was claimed when a write was cut off is sent again after its lease: LINE says 409.
        outbox.clock.advance(seconds=POLICY.lease.total_seconds())
        later = outbox.drain()

        assert outage.started.is_set() and outage.remaining == 0
        assert report.database_errors >= 4
        assert [outbox.received(f) for f in fans] == [expected(f) for f in fans]
        assert outbox.states() == {"sent": 30}
        assert report.sent + later.sent - later.already_accepted == 30
    finally:
        engine.dispose()


# -- several senders --------------------------------------------------------------------------


class GatedLine(BulkLine):
    """A BulkLine whose first push waits for a gate, so a test can order two senders."""

    def __init__(
        self, settings: Settings, *, before_first: threading.Event | None, after_first: threading.Event
    ) -> None:
        super().__init__(settings, connections=4)
        self.before_first = before_first
        self.after_first = after_first
        self.pushed = 0

    async def push(self, to: str, messages_json: str, retry_key: str) -> SendResult:
        self.pushed += 1
        if self.pushed == 1 and self.before_first is not None:
            assert await asyncio.to_thread(self.before_first.wait, 30)
        result = await super().push(to, messages_json, retry_key)
        self.after_first.set()
        return result


def test_two_senders_share_the_work_and_every_message_goes_out_exactly_once(outbox: Outbox) -> None:
    fans = outbox.fans(60)
    outbox.enqueue(fans)
    second_sent = threading.Event()
    first_sent = threading.Event()
    policy = SenderPolicy(connections=4, claim_size=10, flush_size=10)
    # The first sender claims its rows, then waits until the second has claimed and sent some.
    first = outbox.sender(
        policy=policy,
        line=lambda: GatedLine(outbox.settings, before_first=second_sent, after_first=first_sent),
    )
    second = outbox.sender(
        policy=policy,
        line=lambda: GatedLine(outbox.settings, before_first=None, after_first=second_sent),
    )
    reports: dict[str, DrainReport] = {}
    errors: list[BaseException] = []

    def run(name: str, sender: Sender) -> None:
        try:
            reports[name] = sender.drain()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n, s)) for n, s in (("first", first), ("second", second))]
    threads[0].start()
    threads[1].start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert reports["first"].sent > 0 and reports["second"].sent > 0
    assert reports["first"].sent + reports["second"].sent == 60
    assert [outbox.received(f) for f in fans] == [expected(f) for f in fans]
    assert len(outbox.requests(PUSH)) == 60  # nothing was even tried twice
    assert outbox.states() == {"sent": 60}


# -- the pieces --------------------------------------------------------------------------------


def test_the_token_bucket_spaces_requests_at_its_rate() -> None:
    time = FakeTime()
    bucket = TokenBucket(rate=4, burst=1, monotonic=time.monotonic)

    waits = [bucket.reserve() for _ in range(5)]
    time.now += 10  # idle: the bucket refills, but only up to its burst
    after_idle = [bucket.reserve() for _ in range(2)]

    assert waits == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert after_idle == pytest.approx([0, 0.25])


def test_a_paused_bucket_gives_no_token_until_the_pause_is_over() -> None:
    time = FakeTime()
    bucket = TokenBucket(rate=100, burst=1, monotonic=time.monotonic)

    bucket.pause(0.5)

    assert bucket.reserve() == pytest.approx(0.51)


def test_backoff_doubles_with_each_attempt_up_to_its_cap_with_jitter_in_the_upper_half() -> None:
    policy = SenderPolicy(backoff_base_seconds=1.0, backoff_cap_seconds=60.0)
    rng = random.Random(1)

    samples = {
        attempt: [backoff_seconds(attempt, policy, rng) for _ in range(200)] for attempt in (1, 2, 3, 10)
    }

    assert min(samples[1]) >= 0.5 and max(samples[1]) <= 1.0
    assert min(samples[2]) >= 1.0 and max(samples[2]) <= 2.0
    assert min(samples[3]) >= 2.0 and max(samples[3]) <= 4.0
    assert min(samples[10]) >= 30.0 and max(samples[10]) <= 60.0
    assert len(set(samples[3])) > 100  # jittered, not one fixed delay


def test_the_report_says_what_happened_in_plain_english() -> None:
    report = DrainReport(sent=9, already_accepted=1, failed=1, over_quota=2, requests=11, rate_limited=1)
    report.failure_reasons["LINE API error 400: Failed to send messages"] = 1

    text = report.summary()

    assert "sent 9 messages (1 of them already accepted by LINE, 409)" in text
    assert "over quota 2" in text
    assert "1 rate-limited (429)" in text
    assert "failed x1: LINE API error 400: Failed to send messages" in text


def test_the_retry_keys_are_uuids(outbox: Outbox) -> None:
    fans = outbox.fans(2)
    outbox.enqueue(fans)

    assert all(uuid.UUID(r.retry_key).version == 4 for r in outbox.rows())
