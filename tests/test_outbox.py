"""The outbox: rows written before sending, claimed once, recorded, and kept within the quota."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session

from data.models import Fan
from data.outbox import (
    MAX_MULTICAST_RECIPIENTS,
    RETRY_WINDOW,
    OutboxCoupon,
    OutboxItem,
    OutboxMessage,
    Outcome,
    claim_batch,
    count_by_state,
    enqueue,
    plan_quota,
    record_outcomes,
    requeue_over_quota,
    stop_for_quota,
)
from data.privacy import delete_fan_data

NOW = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)
VERSION = "2026-11"
LEASE = timedelta(minutes=2)
SHARED = json.dumps([{"type": "text", "text": "今日もご来場ありがとうございました！"}], ensure_ascii=False)

MakeFans = Callable[..., list[Fan]]


@pytest.fixture
def make_fans(db_session: Session) -> MakeFans:
    """Reachable LINE fans (consent current, following), committed."""

    def make(count: int) -> list[Fan]:
        rows = [
            {
                "line_user_id": "U" + uuid.uuid4().hex,
                "source": "line",
                "consented_at": NOW - timedelta(days=30),
                "consent_version": VERSION,
                "is_following": True,
                "created_at": NOW,
            }
            for _ in range(count)
        ]
        db_session.execute(insert(Fan), rows)
        db_session.commit()
        ids = {r["line_user_id"] for r in rows}
        return sorted(db_session.scalars(select(Fan).where(Fan.line_user_id.in_(ids))), key=lambda f: f.id)

    return make


def personal(fan: Fan, priority: float = 0.0) -> OutboxItem:
    payload = json.dumps([{"type": "text", "text": f"クーポン {fan.id}"}], ensure_ascii=False)
    return OutboxItem(fan_id=fan.id, line_user_id=str(fan.line_user_id), payload=payload, priority=priority)


def shared(fan: Fan, priority: float = 0.0) -> OutboxItem:
    return OutboxItem(
        fan_id=fan.id, line_user_id=str(fan.line_user_id), payload=SHARED, priority=priority, personal=False
    )


def claim(session: Session, limit: int = 100, now: datetime = NOW) -> list[tuple[int, ...]]:
    report = claim_batch(session, limit, now, consent_version=VERSION, lease=LEASE)
    session.commit()
    return [d.row_ids for d in report.deliveries]


def rows(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


# -- enqueue ------------------------------------------------------------------------------


def test_each_personal_message_is_a_pending_push_with_its_own_retry_key(
    db_session: Session, make_fans: MakeFans
) -> None:
    fans = make_fans(3)

    report = enqueue(db_session, [personal(f) for f in fans], NOW)
    db_session.commit()

    stored = rows(db_session)
    assert (report.push, report.multicast) == (3, 0)
    assert [(r.kind, r.state, r.attempts, r.fan_id) for r in stored] == [
        ("push", "pending", 0, f.id) for f in fans
    ]
    assert len({uuid.UUID(r.retry_key) for r in stored}) == 3
    assert json.loads(stored[0].payload) == [{"type": "text", "text": f"クーポン {fans[0].id}"}]


def test_identical_non_personal_messages_are_batched_for_multicast_best_scored_first(
    db_session: Session, make_fans: MakeFans
) -> None:
    fans = make_fans(MAX_MULTICAST_RECIPIENTS + 2)
    items = [shared(f, priority=i) for i, f in enumerate(fans)]

    report = enqueue(db_session, items, NOW)
    db_session.commit()

    stored = rows(db_session)
    batches: dict[str, list[OutboxMessage]] = {}
    for row in stored:
        batches.setdefault(str(row.batch_key), []).append(row)
    assert (report.multicast, report.batches) == (len(fans), 2)
    assert sorted(len(b) for b in batches.values()) == [2, MAX_MULTICAST_RECIPIENTS]
    full = next(b for b in batches.values() if len(b) == MAX_MULTICAST_RECIPIENTS)
    assert min(r.priority for r in full) == 2  # the two lowest scores share the second batch
    assert all(r.batch_key != r.retry_key for r in stored)


def test_a_payload_that_is_not_a_message_list_is_refused(db_session: Session, make_fans: MakeFans) -> None:
    (fan,) = make_fans(1)

    with pytest.raises(ValueError, match="JSON array"):
        enqueue(db_session, [OutboxItem(fan.id, str(fan.line_user_id), '{"type": "text"}')], NOW)


def test_a_shared_message_carrying_coupons_is_refused_and_nothing_is_written(
    db_session: Session, make_fans: MakeFans
) -> None:
    first, second = make_fans(2)
    carrying = OutboxItem(second.id, str(second.line_user_id), SHARED, personal=False, held_coupon_ids=(7,))

    with pytest.raises(ValueError, match="carries coupons, so it must be personal"):
        enqueue(db_session, [personal(first), carrying], NOW)
    db_session.rollback()

    assert rows(db_session) == []


def test_a_message_is_linked_to_the_coupons_it_carries_and_those_issued_with_it(
    db_session: Session, make_fans: MakeFans
) -> None:
    (fan,) = make_fans(1)
    item = personal(fan)
    enqueue(db_session, [replace(item, coupon_ids=(11, 12), held_coupon_ids=(12, 13))], NOW)
    db_session.commit()

    (row,) = rows(db_session)
    links = db_session.execute(
        select(OutboxCoupon.retry_key, OutboxCoupon.coupon_id, OutboxCoupon.carried).order_by(
            OutboxCoupon.coupon_id
        )
    ).all()
    assert [tuple(link) for link in links] == [
        (row.retry_key, 11, True),
        (row.retry_key, 12, True),
        (row.retry_key, 13, False),
    ]


# -- claiming -------------------------------------------------------------------------------


def test_claim_takes_the_best_scored_first_and_never_the_same_row_twice(
    db_session: Session, make_fans: MakeFans
) -> None:
    fans = make_fans(5)
    enqueue(
        db_session,
        [personal(f, priority=p) for f, p in zip(fans, [0.1, 0.9, 0.5, 0.7, 0.3], strict=True)],
        NOW,
    )
    db_session.commit()
    by_fan = {r.fan_id: r.id for r in rows(db_session)}

    first = claim(db_session, limit=2)
    second = claim(db_session, limit=10)

    assert first == [(by_fan[fans[1].id],), (by_fan[fans[3].id],)]
    assert sorted(second) == sorted((by_fan[fans[i].id],) for i in (0, 2, 4))
    assert claim(db_session) == []
    assert {r.state for r in rows(db_session)} == {"sending"}
    assert all(r.attempts == 1 and r.next_attempt_at == NOW + LEASE for r in rows(db_session))


def test_a_claim_abandoned_by_a_dead_sender_is_taken_again_after_its_lease_with_the_same_key(
    db_session: Session, make_fans: MakeFans
) -> None:
    (fan,) = make_fans(1)
    enqueue(db_session, [personal(fan)], NOW)
    db_session.commit()
    first = claim_batch(db_session, 10, NOW, consent_version=VERSION, lease=LEASE)
    db_session.commit()

    before = claim_batch(db_session, 10, NOW + LEASE - timedelta(seconds=1), consent_version=VERSION)
    db_session.commit()
    after = claim_batch(db_session, 10, NOW + LEASE, consent_version=VERSION)
    db_session.commit()

    assert before.deliveries == []
    assert [d.retry_key for d in after.deliveries] == [first.deliveries[0].retry_key]
    assert after.deliveries[0].attempts == 2
    assert after.deliveries[0].first_attempt_at == NOW


def test_a_fan_who_opted_out_after_enqueue_is_dropped_not_sent(
    db_session: Session, make_fans: MakeFans
) -> None:
    kept, opted_out = make_fans(2)
    enqueue(db_session, [personal(kept), personal(opted_out)], NOW)
    opted_out.opted_out_at = NOW
    db_session.commit()

    report = claim_batch(db_session, 10, NOW, consent_version=VERSION)
    db_session.commit()

    assert [d.to for d in report.deliveries] == [(kept.line_user_id,)]
    assert report.dropped == 1
    dropped = next(r for r in rows(db_session) if r.fan_id == opted_out.id)
    assert (dropped.state, dropped.line_user_id) == ("dropped", None)


def test_a_multicast_batch_is_claimed_whole_under_its_key(db_session: Session, make_fans: MakeFans) -> None:
    fans = make_fans(3)
    enqueue(db_session, [shared(f) for f in fans], NOW)
    db_session.commit()
    batch_key = rows(db_session)[0].batch_key

    report = claim_batch(db_session, 1, NOW, consent_version=VERSION)
    db_session.commit()

    (delivery,) = report.deliveries
    assert (delivery.kind, delivery.retry_key, delivery.payload) == ("multicast", batch_key, SHARED)
    assert sorted(delivery.to) == sorted(str(f.line_user_id) for f in fans)
    assert {r.state for r in rows(db_session)} == {"sending"}


def test_a_batch_whose_first_fan_left_still_goes_to_the_others_on_every_retry(
    db_session: Session, make_fans: MakeFans
) -> None:
    first, *others = make_fans(3)
    enqueue(db_session, [shared(f, priority=1.0 if f is first else 0.0) for f in (first, *others)], NOW)
    first.opted_out_at = NOW
    db_session.commit()
    (attempt,) = claim_batch(db_session, 10, NOW, consent_version=VERSION).deliveries
    record_outcomes(
        db_session,
        [Outcome(attempt.row_ids, "pending", "500", next_attempt_at=NOW + timedelta(seconds=1))],
        NOW,
    )
    db_session.commit()

    (retry,) = claim_batch(db_session, 10, NOW + timedelta(seconds=1), consent_version=VERSION).deliveries
    db_session.commit()

    assert sorted(attempt.to) == sorted(retry.to) == sorted(str(f.line_user_id) for f in others)
    assert retry.retry_key == attempt.retry_key
    assert retry.attempts == 2


def test_a_row_is_given_up_before_its_retry_key_expires(db_session: Session, make_fans: MakeFans) -> None:
    (fan,) = make_fans(1)
    enqueue(db_session, [personal(fan)], NOW)
    db_session.commit()
    (delivery,) = claim_batch(db_session, 1, NOW, consent_version=VERSION).deliveries
    record_outcomes(
        db_session, [Outcome(delivery.row_ids, "pending", "LINE API error 500", next_attempt_at=NOW)], NOW
    )
    db_session.commit()

    report = claim_batch(db_session, 1, NOW + RETRY_WINDOW, consent_version=VERSION)
    db_session.commit()

    assert (report.deliveries, report.expired) == ([], 1)
    (row,) = rows(db_session)
    assert row.state == "failed"
    assert row.last_error is not None and "24 hours" in row.last_error and "500" in row.last_error


# -- outcomes -------------------------------------------------------------------------------


def test_outcomes_are_recorded_per_row(db_session: Session, make_fans: MakeFans) -> None:
    fans = make_fans(3)
    enqueue(db_session, [personal(f) for f in fans], NOW)
    db_session.commit()
    sent, retried, failed = claim_batch(db_session, 3, NOW, consent_version=VERSION).deliveries
    later = NOW + timedelta(seconds=4)

    changed = record_outcomes(
        db_session,
        [
            Outcome(sent.row_ids, "sent", request_id="req-1"),
            Outcome(retried.row_ids, "pending", "LINE API error 503", next_attempt_at=later),
            Outcome(failed.row_ids, "failed", "LINE API error 400: Failed to send messages"),
        ],
        NOW,
    )
    db_session.commit()

    assert changed == 3
    states = {
        r.id: (r.state, r.accepted_request_id, r.sent_at, r.next_attempt_at, r.last_error)
        for r in rows(db_session)
    }
    assert states[sent.row_ids[0]] == ("sent", "req-1", NOW, NOW + LEASE, None)
    assert states[retried.row_ids[0]][0::3] == ("pending", later)
    assert states[failed.row_ids[0]][0] == "failed"
    assert states[failed.row_ids[0]][4] == "LINE API error 400: Failed to send messages"


def test_a_late_outcome_does_not_undo_what_another_sender_recorded(
    db_session: Session, make_fans: MakeFans
) -> None:
    (fan,) = make_fans(1)
    enqueue(db_session, [personal(fan)], NOW)
    db_session.commit()
    (slow,) = claim_batch(db_session, 1, NOW, consent_version=VERSION, lease=LEASE).deliveries
    db_session.commit()
    (took_over,) = claim_batch(db_session, 1, NOW + LEASE, consent_version=VERSION).deliveries
    record_outcomes(db_session, [Outcome(took_over.row_ids, "sent", request_id="by-the-second")], NOW + LEASE)
    db_session.commit()

    changed = record_outcomes(
        db_session, [Outcome(slow.row_ids, "pending", "timeout", next_attempt_at=NOW)], NOW
    )
    db_session.commit()

    assert changed == 0
    (row,) = rows(db_session)
    assert (row.state, row.accepted_request_id) == ("sent", "by-the-second")


# -- the monthly quota ----------------------------------------------------------------------


def test_when_the_quota_is_short_the_best_scored_stay_and_the_rest_are_set_aside(
    db_session: Session, make_fans: MakeFans
) -> None:
    fans = make_fans(5)
    enqueue(
        db_session,
        [personal(f, priority=p) for f, p in zip(fans, [0.1, 0.9, 0.5, 0.7, 0.3], strict=True)],
        NOW,
    )
    db_session.commit()

    set_aside = plan_quota(db_session, 2, reason="monthly quota: 2 left")
    db_session.commit()

    assert set_aside == 3
    state = {r.fan_id: (r.state, r.last_error) for r in rows(db_session)}
    assert [state[f.id][0] for f in fans] == ["over_quota", "pending", "over_quota", "pending", "over_quota"]
    assert state[fans[0].id][1] == "monthly quota: 2 left"


def test_messages_that_may_have_reached_line_are_never_set_aside(
    db_session: Session, make_fans: MakeFans
) -> None:
    fans = make_fans(4)
    enqueue(
        db_session, [personal(f, priority=p) for f, p in zip(fans, [0.1, 0.2, 0.8, 0.9], strict=True)], NOW
    )
    db_session.commit()
    # The two lowest-scored were tried before and their answer was lost: they may be delivered.
    low = [r.id for r in rows(db_session) if r.priority < 0.5]
    db_session.execute(
        OutboxMessage.__table__.update().where(OutboxMessage.id.in_(low)).values(attempts=1)  # type: ignore[attr-defined]
    )
    db_session.commit()

    plan_quota(db_session, 3, reason="quota")
    db_session.commit()

    assert [r.state for r in rows(db_session)] == ["pending", "pending", "over_quota", "pending"]


def test_a_quota_stop_sets_every_pending_row_aside_and_requeue_brings_them_back(
    db_session: Session, make_fans: MakeFans
) -> None:
    fans = make_fans(4)
    enqueue(db_session, [personal(fans[0]), *(shared(f) for f in fans[1:])], NOW)
    db_session.commit()
    old_batch = rows(db_session)[1].batch_key

    stopped = stop_for_quota(db_session, reason="LINE: You have reached your monthly limit.")
    db_session.commit()
    assert stopped == 4
    assert count_by_state(db_session)["over_quota"] == 4
    assert {r.batch_key for r in rows(db_session)} == {None}

    back = requeue_over_quota(db_session, NOW + timedelta(days=3))
    db_session.commit()

    assert back == 4
    after = rows(db_session)
    assert {r.state for r in after} == {"pending"}
    assert after[1].batch_key is not None and after[1].batch_key != old_batch
    assert len({r.batch_key for r in after[1:]}) == 1
    (multicast, push) = sorted(
        claim_batch(db_session, 10, NOW + timedelta(days=3), consent_version=VERSION).deliveries,
        key=lambda d: d.kind,
    )
    assert (push.kind, len(multicast.to)) == ("push", 3)


def test_counts_by_state_name_every_state(db_session: Session, make_fans: MakeFans) -> None:
    fans = make_fans(2)
    enqueue(db_session, [personal(f) for f in fans], NOW)
    db_session.commit()

    assert count_by_state(db_session) == {
        "pending": 2,
        "sending": 0,
        "sent": 0,
        "failed": 0,
        "over_quota": 0,
        "dropped": 0,
        "cancelled": 0,
    }


# -- privacy --------------------------------------------------------------------------------


def test_deleting_a_fans_data_leaves_no_user_id_or_personal_text_in_the_outbox(
    db_session: Session, make_fans: MakeFans
) -> None:
    fan, other = make_fans(2)
    enqueue(db_session, [personal(fan), shared(fan), shared(other)], NOW)
    db_session.commit()

    delete_fan_data(db_session, fan, NOW)
    db_session.commit()

    mine = [r for r in rows(db_session) if r.fan_id == fan.id]
    assert {r.line_user_id for r in mine} == {None}
    assert [(r.kind, r.state, r.payload) for r in mine] == [
        ("push", "dropped", "[]"),
        ("multicast", "pending", SHARED),
    ]
    (delivery,) = claim_batch(db_session, 10, NOW, consent_version=VERSION).deliveries
    assert delivery.to == (other.line_user_id,)


# -- several senders ------------------------------------------------------------------------


def test_two_claimers_never_take_the_same_row(
    engine: Engine, db_session: Session, make_fans: MakeFans
) -> None:
    fans = make_fans(20)
    enqueue(db_session, [personal(f) for f in fans], NOW)
    db_session.commit()
    postgres = engine.dialect.name == "postgresql"

    with Session(engine) as first, Session(engine) as second:
        if postgres:  # a claim that waited for the first's locks would fail here, not hang
            second.execute(text("SET lock_timeout = '5s'"))
        taken_first = claim_batch(first, 12, NOW, consent_version=VERSION).deliveries
        if not postgres:
            first.commit()  # SQLite: one writer at a time; the second waits for the first
        # PostgreSQL: the first still holds its rows; SKIP LOCKED lets the second pass them by.
        taken_second = claim_batch(second, 12, NOW, consent_version=VERSION).deliveries
        second.commit()
        first.commit()

    ids_first = {i for d in taken_first for i in d.row_ids}
    ids_second = {i for d in taken_second for i in d.row_ids}
    assert len(ids_first) == 12
    assert len(ids_second) == 8
    assert ids_first.isdisjoint(ids_second)
