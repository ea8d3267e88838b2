"""Coupons and the push outbox: a coupon is ``sent`` when LINE accepted the message carrying it,
and ``void`` when that message was cancelled before it went out.

The outbox (`data.outbox`) links each message to its coupons (``outbox_coupons``): those whose
cards it carries, and those issued with it that it does not show. These functions follow the
links; none of them commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, String, literal, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from coupons.models import Coupon
from data.outbox import OutboxCoupon, OutboxMessage

__all__ = ["mark_sent", "void_cancelled"]

_CHUNK = 1000


def mark_sent(session: Session, row_ids: Sequence[int], now: datetime) -> int:
    """The coupons carried by these outbox rows (just accepted by LINE) get ``sent_at = now``,
    unless they already have one (a retry answered 409 is the same message). Returns how many."""
    changed = 0
    for start in range(0, len(row_ids), _CHUNK):
        carried = (
            select(OutboxCoupon.coupon_id)
            .join(OutboxMessage, OutboxMessage.retry_key == OutboxCoupon.retry_key)
            .where(OutboxMessage.id.in_(row_ids[start : start + _CHUNK]), OutboxCoupon.carried.is_(True))
        )
        changed += _rowcount(
            session.execute(
                update(Coupon)
                .where(Coupon.id.in_(carried), Coupon.sent_at.is_(None))
                .values(sent_at=now)
                .execution_options(synchronize_session=False)
            )
        )
    return changed


def void_cancelled(session: Session, game_id: int) -> int:
    """Void the unused coupons of the game's cancelled messages (carried or issued with them):
    they never show in マイクーポン and never redeem. Returns how many.

    A voided coupon gives its occasion back (it becomes ``void:<id>``) and stops counting
    against the per-fan limit (`coupons.issue`), so when the postponed game is played, its
    post-game send issues those fans a coupon again.
    """
    linked = (
        select(OutboxCoupon.coupon_id)
        .join(OutboxMessage, OutboxMessage.retry_key == OutboxCoupon.retry_key)
        .where(OutboxMessage.game_id == game_id, OutboxMessage.state == "cancelled")
    )
    return _rowcount(
        session.execute(
            update(Coupon)
            .where(Coupon.id.in_(linked), Coupon.state == "issued")
            .values(state="void", occasion=literal("void:", String) + sql_cast(Coupon.id, String))
            .execution_options(synchronize_session=False)
        )
    )


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)
