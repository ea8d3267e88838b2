"""A fan's coupons as the chat shows them under 「マイクーポン」.

Public function: :func:`usable_coupons`. "Usable" is the redemption rule seen from the fan's
side: issued (not redeemed, not void), not expired. A coupon whose window has not opened yet is
listed too (the card says from when), so a fan is never told they have nothing while holding one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from coupons.models import Campaign, Coupon, Partner

__all__ = ["CAROUSEL_LIMIT", "HeldCoupon", "usable_coupons"]

# LINE's carousel holds at most 12 bubbles.
CAROUSEL_LIMIT = 12


@dataclass(frozen=True)
class HeldCoupon:
    """What a coupon card shows: the offer as issued, the shop, the window and the code."""

    code: str
    partner_name: str
    partner_address: str
    title: str
    offer_text: str
    terms: str
    image_url: str | None
    valid_from: datetime
    expires_at: datetime


def held(coupon: Coupon, partner: Partner, image_url: str | None) -> HeldCoupon:
    return HeldCoupon(
        code=coupon.code,
        partner_name=partner.name,
        partner_address=partner.address,
        title=coupon.offer_title,
        offer_text=coupon.offer_text,
        terms=coupon.offer_terms,
        image_url=image_url,
        valid_from=coupon.valid_from,
        expires_at=coupon.expires_at,
    )


def usable_coupons(
    session: Session, fan_id: int, now: datetime, limit: int = CAROUSEL_LIMIT
) -> list[HeldCoupon]:
    """The fan's coupons that can still be used, soonest expiry first, at most ``limit``."""
    rows = session.execute(
        select(Coupon, Partner, Campaign.image_url)
        .join(Partner, Partner.id == Coupon.partner_id)
        .join(Campaign, Campaign.id == Coupon.campaign_id)
        # LINE-coupon campaigns show in LINE's own coupon list, not as fanbot cards.
        .where(
            Coupon.fan_id == fan_id,
            Coupon.state == "issued",
            Coupon.expires_at > now,
            Campaign.delivery == "card",
        )
        .order_by(Coupon.expires_at, Coupon.id)
        .limit(limit)
    )
    return [held(coupon, partner, image_url) for coupon, partner, image_url in rows]
