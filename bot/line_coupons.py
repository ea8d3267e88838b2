"""LINE's own coupons as a campaign delivery: the coupon lives in LINE, the chat shows LINE's card.

For campaigns that need no verification at the shop (the offer is shown, not checked), a marketer
may prefer the coupon LINE Official Account Manager users know: it appears in the fan's LINE
coupon list. fanbot creates one LINE coupon per campaign (`ensure_line_coupon`) and sends each
targeted fan a ``coupon`` message pointing at it; audience, holdout and the cap stay fanbot's.

What this delivery does NOT give (README: "Coupon delivery"): no per-fan code, no QR with a MAC, no
exactly-once redemption at the counter (`/partner` cannot redeem it), and fanbot cannot see who
used it, so uplift can only be measured through visit check-ins. LINE's coupon has one fixed
validity window: a campaign valid "N hours after sending" gets the window from creation time.
"""

from __future__ import annotations

from datetime import datetime

from linebot.v3.messaging import (
    CouponCreateRequest,
    CouponMessage,
    CouponOthersRewardRequest,
    NormalAcquisitionConditionRequest,
)

from bot.line_client import LineClient
from coupons.issue import coupon_window
from coupons.models import Campaign

__all__ = ["coupon_request", "ensure_line_coupon", "line_coupon_message"]

TITLE_LIMIT = 60  # LINE's limits for a coupon's fields
DESCRIPTION_LIMIT = 1000
USAGE_CONDITION_LIMIT = 100


def coupon_request(campaign: Campaign, now: datetime) -> CouponCreateRequest:
    """The campaign as LINE's coupon: one use per ticket, not listed publicly, Tokyo time."""
    start, end = coupon_window(campaign, now)
    return CouponCreateRequest(
        acquisitionCondition=NormalAcquisitionConditionRequest(),
        title=campaign.title[:TITLE_LIMIT],
        description=campaign.offer_text[:DESCRIPTION_LIMIT],
        usageCondition=(campaign.terms or "")[:USAGE_CONDITION_LIMIT] or None,
        imageUrl=campaign.image_url,
        startTimestamp=int(start.timestamp()),
        endTimestamp=int(end.timestamp()),
        maxUseCountPerTicket=1,
        reward=CouponOthersRewardRequest(),
        visibility="UNLISTED",
        timezone="ASIA_TOKYO",
    )


def ensure_line_coupon(client: LineClient, campaign: Campaign, now: datetime) -> str:
    """The campaign's LINE coupon id, creating the coupon the first time (the caller stores the id)."""
    if campaign.line_coupon_id:
        return campaign.line_coupon_id
    return client.create_coupon(coupon_request(campaign, now))


def line_coupon_message(coupon_id: str) -> CouponMessage:
    return CouponMessage(couponId=coupon_id)
