"""What a campaign achieved, for the partner: coupons issued and redeemed, and visit uplift.

Public functions: `campaign_report(session, campaign_id, window_days=7) -> CampaignReport | None` and
`partner_reports(session, partner_id, window_days=7) -> list[CampaignReport]`.

Uplift compares the campaign's two audience groups (`coupons.models.AudienceMember`): the share of
targeted fans who checked in at the campaign's shop within ``window_days`` after the campaign started (its
first coupon, i.e. the post-game send) against the same share in the holdout, with Newcombe's interval
(`coupons.uplift`).
A fan who deleted their data is in neither group any more (their membership row lost its fan).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from coupons.models import AudienceMember, Campaign, Coupon, Partner
from coupons.uplift import Uplift, uplift
from coupons.visits import Visit

__all__ = ["CampaignReport", "campaign_report", "partner_reports"]

MAX_WINDOW_DAYS = 60


@dataclass(frozen=True)
class CampaignReport:
    campaign_id: int
    title: str
    partner_id: int
    partner_name: str
    issued: int
    sent: int  # coupons whose message LINE accepted (a push of their own, or the post-game message)
    redeemed: int
    started_at: datetime | None  # the first coupon's issue time; None before anything was issued
    window_days: int
    uplift: Uplift

    @property
    def redemption_rate(self) -> float | None:
        return self.redeemed / self.issued if self.issued else None


def _group(
    session: Session, campaign_id: int, group: str, partner_id: int, window: tuple[datetime, datetime] | None
) -> tuple[int, int]:
    members = (
        select(func.count())
        .select_from(AudienceMember)
        .where(
            AudienceMember.campaign_id == campaign_id,
            AudienceMember.group == group,
            AudienceMember.fan_id.is_not(None),
        )
    )
    size = int(session.scalar(members) or 0)
    if window is None:
        return 0, size
    start, end = window
    visited = exists().where(
        and_(
            Visit.fan_id == AudienceMember.fan_id,
            Visit.partner_id == partner_id,
            Visit.visited_at >= start,
            Visit.visited_at < end,
        )
    )
    visitors = int(session.scalar(members.where(visited)) or 0)
    return visitors, size


def campaign_report(session: Session, campaign_id: int, window_days: int = 7) -> CampaignReport | None:
    if not 1 <= window_days <= MAX_WINDOW_DAYS:
        raise ValueError(f"window_days must be between 1 and {MAX_WINDOW_DAYS}, got {window_days}")
    row = session.execute(
        select(Campaign.id, Campaign.title, Campaign.partner_id, Partner.name)
        .join(Partner, Partner.id == Campaign.partner_id)
        .where(Campaign.id == campaign_id)
    ).one_or_none()
    if row is None:
        return None
    # Sent: LINE accepted the message showing its card — its own push (`bot.coupon_delivery`) or
    # the post-game message through the outbox (`coupons.outbox.mark_sent`) set ``sent_at``.
    issued, sent, redeemed, started = session.execute(
        select(
            func.count(Coupon.id),
            func.count(Coupon.sent_at),
            func.count(Coupon.redeemed_at),
            func.min(Coupon.issued_at),
        ).where(Coupon.campaign_id == campaign_id)
    ).one()
    if isinstance(started, str):  # an aggregate bypasses the column type on SQLite
        from data.models import UTCDateTime

        started = UTCDateTime().process_result_value(datetime.fromisoformat(started), None)  # type: ignore[arg-type]
    window = (started, started + timedelta(days=window_days)) if started is not None else None
    targeted_visitors, targeted = _group(session, campaign_id, "targeted", row.partner_id, window)
    holdout_visitors, holdout = _group(session, campaign_id, "holdout", row.partner_id, window)
    return CampaignReport(
        campaign_id=row.id,
        title=row.title,
        partner_id=row.partner_id,
        partner_name=row.name,
        issued=int(issued),
        sent=int(sent),
        redeemed=int(redeemed),
        started_at=started,
        window_days=window_days,
        uplift=uplift(targeted_visitors, targeted, holdout_visitors, holdout),
    )


def partner_reports(session: Session, partner_id: int, window_days: int = 7) -> list[CampaignReport]:
    ids = session.scalars(select(Campaign.id).where(Campaign.partner_id == partner_id).order_by(Campaign.id))
    return [report for campaign_id in ids if (report := campaign_report(session, campaign_id, window_days))]


def coupons_since(session: Session, since: datetime) -> tuple[int, int]:
    """(issued, redeemed) coupons from ``since`` on, over every campaign (the dashboard's week)."""
    issued = session.scalar(select(func.count()).select_from(Coupon).where(Coupon.issued_at >= since))
    redeemed = session.scalar(select(func.count()).select_from(Coupon).where(Coupon.redeemed_at >= since))
    return int(issued or 0), int(redeemed or 0)
