"""The LINE account's monthly message quota as last read, kept for pages and reports.

The scheduler's ``quota`` job reads LINE's quota and consumption every few minutes
(`bot.scheduler.refresh_quota`) and stores the figure here, so the admin pages and
``fanbot sends show`` can say how many messages are left without asking LINE themselves
(and still have a figure, with its time, when LINE cannot be reached). One row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from data.models import Base, UTCDateTime

__all__ = ["LineQuota", "StoredQuota", "save_quota", "stored_quota"]

_ROW = 1


class LineQuota(Base):
    __tablename__ = "line_quota"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Messages a month; NULL: the plan has no monthly limit.
    monthly_limit: Mapped[int | None] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class StoredQuota:
    limit: int | None
    used: int
    checked_at: datetime

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)


def save_quota(session: Session, limit: int | None, used: int, now: datetime) -> None:
    """Keep LINE's figure read at ``now`` (replacing the one before); never commits."""
    if used < 0 or (limit is not None and limit < 0):
        raise ValueError(f"not a quota: limit {limit!r}, used {used!r}")
    row = session.get(LineQuota, _ROW)
    if row is None:
        session.add(LineQuota(id=_ROW, monthly_limit=limit, used=used, checked_at=now))
    else:
        row.monthly_limit, row.used, row.checked_at = limit, used, now
    session.flush()


def stored_quota(session: Session) -> StoredQuota | None:
    """The figure last read from LINE, or None when it never was."""
    row = session.scalars(select(LineQuota).where(LineQuota.id == _ROW)).first()
    return None if row is None else StoredQuota(row.monthly_limit, row.used, row.checked_at)
