"""Shop visits: a fan scans a shop's check-in QR code, the bot records one visit per fan, shop and day.

Holdout fans get no coupon but can check in too, so visit rates are observable in both groups and the
difference measures what the coupons did (`coupons.reports`). A shop's check-in code is public (it is
printed on the counter card) and separate from the staff access code; it only names the shop.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from coupons.models import Partner
from data.models import Base, UTCDateTime

__all__ = [
    "CHECKIN_KEYWORD",
    "CheckinCode",
    "Visit",
    "VisitResult",
    "checkin_code",
    "checkin_link",
    "checkin_text",
    "forget_visits",
    "parse_checkin",
    "record_visit",
]

TOKYO = ZoneInfo("Asia/Tokyo")
CHECKIN_KEYWORD = "来店チェックイン"
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read off a card and typed by hand
CODE_LENGTH = 8
_CHECKIN = re.compile(rf"^{CHECKIN_KEYWORD}\s*[:：]?\s*([{CODE_ALPHABET}]{{{CODE_LENGTH}}})\b")
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class CheckinCode(Base):
    """The public code on a shop's check-in QR card (one per partner)."""

    __tablename__ = "checkin_codes"

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Visit(Base):
    """A fan's visit to a shop on a Tokyo calendar day (at most one per fan, shop and day)."""

    __tablename__ = "visits"
    __table_args__ = (UniqueConstraint("fan_id", "partner_id", "visited_on"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    fan_id: Mapped[int] = mapped_column(ForeignKey("fans.id", ondelete="CASCADE"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    visited_on: Mapped[date] = mapped_column(Date)
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class VisitResult:
    partner_name: str
    recorded: bool  # False: this fan's visit to this shop today was already recorded


def checkin_code(session: Session, partner_id: int, now: datetime) -> str:
    """The shop's check-in code, created on first use."""
    existing = session.scalar(select(CheckinCode.code).where(CheckinCode.partner_id == partner_id))
    if existing is not None:
        return existing
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    session.add(CheckinCode(partner_id=partner_id, code=code, created_at=now))
    session.flush()
    return code


def checkin_text(code: str, partner_name: str) -> str:
    """The message the QR pre-fills: the keyword and code first (what the bot reads), then the shop's name."""
    return f"{CHECKIN_KEYWORD} {code} {partner_name}"


def checkin_link(basic_id: str, text: str) -> str:
    """LINE's URL scheme that opens the account's chat with ``text`` typed in."""
    return f"https://line.me/R/oaMessage/{quote(basic_id, safe='')}/?{quote(text, safe='')}"


def parse_checkin(text: str) -> str | None:
    """The check-in code in a fan's message, or None when the message is not a check-in."""
    match = _CHECKIN.match(unicodedata.normalize("NFKC", text).strip().upper())
    return match.group(1) if match else None


def record_visit(session: Session, fan_id: int, code: str, now: datetime) -> VisitResult | None:
    """Record the fan's visit to the shop behind ``code`` today (Tokyo); None for an unknown code."""
    partner = session.execute(
        select(Partner.id, Partner.name)
        .join(CheckinCode, CheckinCode.partner_id == Partner.id)
        .where(CheckinCode.code == code)
    ).one_or_none()
    if partner is None:
        return None
    values = {
        "fan_id": fan_id,
        "partner_id": partner.id,
        "visited_on": now.astimezone(TOKYO).date(),
        "visited_at": now,
    }
    # One row per fan, shop and day, also when the same scan arrives twice at once.
    # RETURNING says whether the row went in (rowcount is not reliable for ORM-enabled inserts).
    if session.get_bind().dialect.name == "postgresql":
        inserted = session.scalar(
            pg_insert(Visit).values(**values).on_conflict_do_nothing().returning(Visit.id)
        )
    else:
        inserted = session.scalar(
            sqlite_insert(Visit).values(**values).on_conflict_do_nothing().returning(Visit.id)
        )
    return VisitResult(partner_name=str(partner.name), recorded=inserted is not None)


def forget_visits(session: Session, fan_id: int) -> None:
    """Remove a fan's visits when they delete their data (visit history is personal data too)."""
    session.execute(delete(Visit).where(Visit.fan_id == fan_id))
