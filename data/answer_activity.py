"""How many survey answers arrived per day (Asia/Tokyo days), for the dashboard chart."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from data.models import Answer

TOKYO = ZoneInfo("Asia/Tokyo")


def _tokyo_day(session: Session) -> ColumnElement[object]:
    # Counted in the database: a month of answers can be hundreds of thousands of rows.
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("Asia/Tokyo", Answer.answered_at))
    # SQLite keeps UTC text; Tokyo is UTC+9 all year (no daylight saving).
    return func.date(Answer.answered_at, "+9 hours")


def answers_per_day(session: Session, now: datetime, days: int = 30) -> list[tuple[date, int]]:
    """``days`` (Tokyo date, answers stored that day) pairs, oldest first, ending today; empty days are 0.

    An answer changed later counts on the day of its latest value.
    """
    today = now.astimezone(TOKYO).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=TOKYO)
    counts = {first + timedelta(days=offset): 0 for offset in range(days)}
    day = _tokyo_day(session).label("day")
    rows = session.execute(select(day, func.count()).where(Answer.answered_at >= start).group_by(day))
    for value, count in rows:
        key = value if isinstance(value, date) else date.fromisoformat(str(value))
        if key in counts:
            counts[key] = int(count)
    return sorted(counts.items())
