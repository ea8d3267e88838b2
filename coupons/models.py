"""Coupon-side tables on the fan database's declarative base.

Partner is the shop a campaign belongs to. Written by the marketer pages (issue #9) ahead of the coupons
work (issue #7), with the fields that work's brief names, so campaigns and redemption can build on it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from data.models import Base, UTCDateTime, utcnow

__all__ = ["Partner"]

BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Partner(Base):
    """A partner shop. Its staff sign in to the redemption page with an access code kept only as a hash."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    category: Mapped[str] = mapped_column(String(50), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    access_code_hash: Mapped[str | None] = mapped_column(String(256))
    access_code_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
