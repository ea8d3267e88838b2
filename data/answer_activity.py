"""How many survey answers arrived per day (Asia/Tokyo days), for the dashboard chart."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import Answer

TOKYO = ZoneInfo("Asia/Tokyo")


def answers_per_day(session: Session, now: datetime, days: int = 30) -> list[tuple[date, int]]:
    """``days`` (Tokyo date, answers stored that day) pairs, oldest first, ending today; empty days are 0.

    An answer changed later counts on the day of its latest value.
    """
    today = now.astimezone(TOKYO).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=TOKYO)
    counts = {first + timedelta(days=offset): 0 for offset in range(days)}
    stamps = session.execute(select(Answer.answered_at).where(Answer.answered_at >= start)).scalars()
    for stamp in stamps:
        day = stamp.astimezone(TOKYO).date()
        if day in counts:
            counts[day] += 1
    return sorted(counts.items())
