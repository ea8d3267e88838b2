"""Partners, campaigns, coupons, audiences and lookalike scores.

A campaign is a partner's offer with a target rule; issuing it gives each matched fan one
coupon whose offer is copied at issue time (``Coupon.offer_*``), so editing the campaign later
never changes a coupon a fan already holds. ``AudienceMember`` records which group (targeted
or holdout) each eligible fan fell into, which is what uplift is measured against.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

import data.games  # noqa: F401  (campaigns.game_id refers to games)
from data.models import Base, BigIntId, UTCDateTime, utcnow

__all__ = [
    "CAMPAIGN_STATES",
    "COUPON_STATES",
    "DELIVERIES",
    "AudienceMember",
    "Campaign",
    "Coupon",
    "LookalikeScore",
    "Partner",
]

CAMPAIGN_STATES = ("draft", "active", "paused", "ended")
DELIVERIES = ("card", "line_coupon")
COUPON_STATES = ("issued", "redeemed", "void", "expired")


class Partner(Base):
    """A local business that accepts coupons; its staff sign in with ``access_code``."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    active: Mapped[bool] = mapped_column(default=True)
    # scrypt hash of the staff access code (see coupons.partners); never the code itself.
    access_code_hash: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Campaign(Base):
    """A partner's offer, its target rule, limits and validity."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("total_cap >= 0", name="cap_not_negative"),
        CheckConstraint("issued_count >= 0", name="issued_not_negative"),
        CheckConstraint("holdout_share >= 0 AND holdout_share < 1", name="holdout_share_range"),
        CheckConstraint("per_fan_limit >= 1", name="per_fan_limit_positive"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    title: Mapped[str] = mapped_column(String(200))
    offer_text: Mapped[str] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(1000))
    terms: Mapped[str] = mapped_column(Text, default="")
    # Validity: a fixed window (valid_from/valid_until), or valid_hours after the coupon is issued.
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_hours: Mapped[int | None] = mapped_column(Integer)
    # How many of this campaign's coupons one fan may hold over time (one per occasion).
    per_fan_limit: Mapped[int] = mapped_column(Integer, default=1)
    total_cap: Mapped[int] = mapped_column(Integer, default=0)
    # Coupons issued so far; raised only by the conditional UPDATE in coupons.issue.
    issued_count: Mapped[int] = mapped_column(Integer, default=0)
    target_rule: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    holdout_share: Mapped[float] = mapped_column(Float, default=0.10)
    state: Mapped[str] = mapped_column(String(16), default="draft")
    # "card": fanbot's own coupon card, verified at the shop; "line_coupon": LINE's Coupon API.
    delivery: Mapped[str] = mapped_column(String(16), default="card", server_default="card")
    line_coupon_id: Mapped[str | None] = mapped_column(String(64))
    # After the game: sent when this game (or every home game) ends; text by result; quiet hours.
    game_id: Mapped[int | None] = mapped_column(ForeignKey("games.id"))
    all_home_games: Mapped[bool] = mapped_column(default=False, server_default="0")
    win_text: Mapped[str | None] = mapped_column(Text)
    loss_text: Mapped[str | None] = mapped_column(Text)
    # In quiet hours (22:00-08:00 JST) a send "wait"s for the morning or is "drop"ped.
    quiet_hours_policy: Mapped[str] = mapped_column(String(8), default="wait", server_default="wait")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Coupon(Base):
    """One of a fan's coupons for a campaign; the offer is a copy taken at issue time.

    A fan holds at most ``per_fan_limit`` coupons of a campaign, numbered by ``seq``, and at
    most one per ``occasion`` (what it was issued for: ``game:<id>``, ``send:<JST date>``):
    both are unique keys, which is what keeps racing issuers inside the limit.
    """

    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("campaign_id", "fan_id", "seq", name="uq_coupons_campaign_fan_seq"),
        UniqueConstraint("campaign_id", "fan_id", "occasion", name="uq_coupons_campaign_fan_occasion"),
        UniqueConstraint("code", name="uq_coupons_code"),
        Index("ix_coupons_fan_id", "fan_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    # NULL once the fan deleted their data: the coupon then no longer exists for the shop.
    fan_id: Mapped[int | None] = mapped_column(ForeignKey("fans.id", ondelete="SET NULL"))
    code: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    occasion: Mapped[str] = mapped_column(String(64), default="", server_default="")
    state: Mapped[str] = mapped_column(String(16), default="issued")
    offer_title: Mapped[str] = mapped_column(String(200))
    offer_text: Mapped[str] = mapped_column(Text)
    offer_terms: Mapped[str] = mapped_column(Text, default="")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When LINE accepted the message carrying this coupon; NULL while not sent.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AudienceMember(Base):
    """A fan's group for a campaign, fixed the first time the fan was eligible."""

    __tablename__ = "audience_members"
    __table_args__ = (UniqueConstraint("campaign_id", "fan_id", name="uq_audience_members_campaign_fan"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    fan_id: Mapped[int | None] = mapped_column(ForeignKey("fans.id", ondelete="SET NULL"))
    group: Mapped[str] = mapped_column(String(16))  # "targeted" or "holdout"
    matched_by: Mapped[str] = mapped_column(String(16), default="rule")  # "rule" or "lookalike"
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LookalikeScore(Base):
    """A fan's lookalike score for an item from one scoring run, with the reasons behind it."""

    __tablename__ = "lookalike_scores"
    __table_args__ = (UniqueConstraint("item_id", "fan_id", name="uq_lookalike_scores_item_fan"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(String(64))
    fan_id: Mapped[int] = mapped_column(ForeignKey("fans.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    auc: Mapped[float | None] = mapped_column(Float)
