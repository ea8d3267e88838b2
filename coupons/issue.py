"""Issuing coupons: at most one per fan per campaign, never more than the campaign's cap.

Public functions: :func:`issue_coupon` (one fan), :func:`issue_campaign` (every targeted fan
of an active campaign), :func:`coupon_window`.

Race safety, by construction:

* the cap is a counter raised by one conditional ``UPDATE campaigns SET issued_count =
  issued_count + 1 WHERE id = :id AND state = 'active' AND issued_count < total_cap``:
  concurrent issuers queue on the row (PostgreSQL re-checks the WHERE after the lock is
  released; SQLite's write lock serialises transactions), so the count never passes the cap;
* "one per fan" is the ``(campaign_id, fan_id)`` unique constraint: the insert runs in a
  SAVEPOINT, and a losing racer gets ``already`` and gives its counter step back.

Nothing here commits; the caller's transaction decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coupons.audience import eligible_fans, record_audience
from coupons.codes import new_code
from coupons.models import Campaign, Coupon
from coupons.rules import TargetRule
from data.database import insert_new

__all__ = ["IssueReport", "IssueResult", "coupon_window", "issue_campaign", "issue_coupon"]


@dataclass(frozen=True)
class IssueResult:
    """``status``: ``issued``, ``already`` (the fan has this campaign's coupon), ``cap``
    (the campaign reached its total cap) or ``inactive`` (not active: draft, paused, ended)."""

    status: str
    coupon: Coupon | None = None


@dataclass
class IssueReport:
    eligible: int = 0
    holdout: int = 0
    issued: list[Coupon] = field(default_factory=list)
    already: int = 0
    over_cap: int = 0
    inactive: bool = False


def coupon_window(campaign: Campaign, now: datetime) -> tuple[datetime, datetime]:
    """(valid from, expires at) of a coupon issued now: a fixed window or N hours from now."""
    if campaign.valid_hours is not None:
        return now, now + timedelta(hours=campaign.valid_hours)
    if campaign.valid_from is None or campaign.valid_until is None:
        raise ValueError("キャンペーンに有効期間が設定されていません。")
    return campaign.valid_from, campaign.valid_until


def issue_coupon(session: Session, campaign_id: int, fan_id: int, now: datetime) -> IssueResult:
    """Issue one coupon of the campaign to the fan, if the fan has none and the cap allows."""
    existing = session.scalar(
        select(Coupon).where(Coupon.campaign_id == campaign_id, Coupon.fan_id == fan_id)
    )
    if existing is not None:
        return IssueResult("already", existing)
    raised: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.state == "active",
            Campaign.issued_count < Campaign.total_cap,
        )
        .values(issued_count=Campaign.issued_count + 1)
        .execution_options(synchronize_session=False)
    )
    if raised.rowcount != 1:
        state = session.scalar(select(Campaign.state).where(Campaign.id == campaign_id))
        return IssueResult("inactive" if state != "active" else "cap")
    # Read the campaign as it is now (after the lock): the offer copied is the current one.
    campaign = session.execute(
        select(Campaign).where(Campaign.id == campaign_id).execution_options(populate_existing=True)
    ).scalar_one()
    valid_from, expires_at = coupon_window(campaign, now)
    for _ in range(5):
        coupon = Coupon(
            campaign_id=campaign.id,
            partner_id=campaign.partner_id,
            fan_id=fan_id,
            code=new_code(),
            state="issued",
            offer_title=campaign.title,
            offer_text=campaign.offer_text,
            offer_terms=campaign.terms,
            issued_at=now,
            valid_from=valid_from,
            expires_at=expires_at,
        )
        try:
            with session.begin_nested():
                session.add(coupon)
                session.flush()
        except IntegrityError:
            taken = session.scalar(
                select(Coupon).where(Coupon.campaign_id == campaign_id, Coupon.fan_id == fan_id)
            )
            if taken is not None:
                # Another issuer got there first: give back the counter step.
                session.execute(
                    update(Campaign)
                    .where(Campaign.id == campaign_id)
                    .values(issued_count=Campaign.issued_count - 1)
                    .execution_options(synchronize_session=False)
                )
                return IssueResult("already", taken)
            continue  # a code collision (about 2⁻⁶³ per pair): draw another code
        return IssueResult("issued", coupon)
    raise RuntimeError("could not draw an unused coupon code")  # pragma: no cover


# Fans issued per reservation: one UPDATE of the counter and one multi-row INSERT per chunk.
CHUNK = 1000


def _reserve(session: Session, campaign_id: int, count: int) -> bool:
    """Raise the cap counter by ``count`` in one step, only if all of them fit and the campaign is active."""
    raised: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.state == "active",
            Campaign.issued_count + count <= Campaign.total_cap,
        )
        .values(issued_count=Campaign.issued_count + count)
        .execution_options(synchronize_session=False)
    )
    return raised.rowcount == 1


def _give_back(session: Session, campaign_id: int, count: int) -> None:
    if count:
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(issued_count=Campaign.issued_count - count)
            .execution_options(synchronize_session=False)
        )


def _issue_chunk(
    session: Session, campaign_id: int, fan_ids: list[int], now: datetime
) -> list[Coupon] | None:
    """Issue to every fan of ``fan_ids`` at once; None when the whole chunk does not fit (cap, paused).

    Fans another issuer served meanwhile are skipped by the unique constraint and their counter
    steps given back, exactly as :func:`issue_coupon` does for one fan.
    """
    if not _reserve(session, campaign_id, len(fan_ids)):
        return None
    campaign = session.execute(
        select(Campaign).where(Campaign.id == campaign_id).execution_options(populate_existing=True)
    ).scalar_one()
    valid_from, expires_at = coupon_window(campaign, now)
    codes = [new_code() for _ in fan_ids]
    rows = [
        {
            "campaign_id": campaign.id,
            "partner_id": campaign.partner_id,
            "fan_id": fan_id,
            "code": code,
            "state": "issued",
            "offer_title": campaign.title,
            "offer_text": campaign.offer_text,
            "offer_terms": campaign.terms,
            "issued_at": now,
            "valid_from": valid_from,
            "expires_at": expires_at,
        }
        for fan_id, code in zip(fan_ids, codes, strict=True)
    ]
    try:
        with session.begin_nested():
            insert_new(session, Coupon.__table__, rows, keys=("campaign_id", "fan_id"))
    except IntegrityError:
        _give_back(session, campaign_id, len(fan_ids))  # a code collision: the caller goes one by one
        return None
    issued = list(
        session.scalars(select(Coupon).where(Coupon.campaign_id == campaign_id, Coupon.code.in_(codes)))
    )
    _give_back(session, campaign_id, len(fan_ids) - len(issued))
    return issued


def issue_campaign(
    session: Session, campaign: Campaign, rule: TargetRule, consent_version: str, now: datetime
) -> IssueReport:
    """Record the audience and issue a coupon to every targeted fan; holdout fans get none.

    Fans are issued in chunks of `CHUNK` (one counter step and one INSERT each); a chunk that
    does not fit under the cap, or meets a paused campaign, goes one fan at a time through
    :func:`issue_coupon`, which says for each fan exactly why not.
    """
    report = IssueReport()
    if campaign.state != "active":
        report.inactive = True
        return report
    audience = record_audience(
        session, campaign, eligible_fans(session, campaign, rule, consent_version), now
    )
    report.eligible = len(audience)
    report.holdout = sum(1 for member in audience if member.group == "holdout")
    held = set(session.scalars(select(Coupon.fan_id).where(Coupon.campaign_id == campaign.id)))
    targeted = [m.fan_id for m in audience if m.group == "targeted"]
    report.already = sum(1 for fan_id in targeted if fan_id in held)
    todo = [fan_id for fan_id in targeted if fan_id not in held]
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start : start + CHUNK]
        issued = _issue_chunk(session, campaign.id, chunk, now)
        if issued is not None:
            report.issued.extend(issued)
            report.already += len(chunk) - len(issued)
            continue
        for position, fan_id in enumerate(chunk):
            result = issue_coupon(session, campaign.id, fan_id, now)
            if result.status == "issued" and result.coupon is not None:
                report.issued.append(result.coupon)
            elif result.status == "already":
                report.already += 1
            elif result.status == "cap":
                # The cap is reached: nobody after this fan gets one in this run.
                report.over_cap += len(todo) - start - position
                return report
            else:
                report.inactive = True
                return report
    return report
