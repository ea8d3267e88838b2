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


def issue_campaign(
    session: Session, campaign: Campaign, rule: TargetRule, consent_version: str, now: datetime
) -> IssueReport:
    """Record the audience and issue a coupon to every targeted fan; holdout fans get none."""
    report = IssueReport()
    if campaign.state != "active":
        report.inactive = True
        return report
    audience = record_audience(
        session, campaign, eligible_fans(session, campaign, rule, consent_version), now
    )
    report.eligible = len(audience)
    for member in audience:
        if member.group == "holdout":
            report.holdout += 1
            continue
        result = issue_coupon(session, campaign.id, member.fan_id, now)
        if result.status == "issued" and result.coupon is not None:
            report.issued.append(result.coupon)
        elif result.status == "already":
            report.already += 1
        elif result.status == "cap":
            report.over_cap += 1
        else:
            report.inactive = True
            break
    return report
