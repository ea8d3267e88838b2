"""What the marketer's pages show about fans: counts, a paged list, one fan's answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from data.consent import current_consent_clause, has_current_consent, is_reachable, reachable_clause
from data.models import AnonymousCount, Answer, Fan


@dataclass(frozen=True)
class FanCounts:
    line_fans: int
    following: int
    consented: int
    reachable: int
    opted_out: int
    deleted: int
    anonymous_respondents: int
    answers: int
    answers_last_day: int


# The fan list's filters. The dashboard counts with the same conditions, so a count
# and the list it stands for always agree.
FILTERS = ("line", "reachable", "import", "demo", "deleted")


def filter_conditions(key: str, consent_version: str) -> list[ColumnElement[bool]]:
    """The WHERE conditions of the fan-list filter ``key`` (see `FILTERS`)."""
    if key == "line":
        # Deleted fans are skeletons without a LINE id: they are counted under "deleted".
        return [Fan.source == "line", Fan.deleted_at.is_(None)]
    if key == "reachable":
        return [Fan.source == "line", reachable_clause(consent_version)]
    if key == "deleted":
        return [Fan.deleted_at.is_not(None)]
    if key in ("import", "demo"):
        return [Fan.source == key]
    raise ValueError(f"unknown fan filter {key!r}")


def fan_counts(session: Session, now: datetime, consent_version: str) -> FanCounts:
    """Headline counts; ``consented`` counts current consent only (`data.consent`)."""

    def count(*conditions: object) -> int:
        return int(session.scalar(select(func.count()).select_from(Fan).where(*conditions)) or 0)  # type: ignore[arg-type]

    line = Fan.source == "line"
    deleted_before = session.get(AnonymousCount, "deleted_fans")
    return FanCounts(
        line_fans=count(*filter_conditions("line", consent_version)),
        following=count(line, Fan.is_following.is_(True), Fan.deleted_at.is_(None)),
        consented=count(line, current_consent_clause(consent_version)),
        reachable=count(*filter_conditions("reachable", consent_version)),
        opted_out=count(line, Fan.opted_out_at.is_not(None), Fan.deleted_at.is_(None)),
        deleted=max(
            count(*filter_conditions("deleted", consent_version)),
            deleted_before.count if deleted_before else 0,
        ),
        anonymous_respondents=count(Fan.source != "line"),
        answers=int(session.scalar(select(func.count()).select_from(Answer)) or 0),
        answers_last_day=int(
            session.scalar(
                select(func.count()).select_from(Answer).where(Answer.answered_at >= now - timedelta(days=1))
            )
            or 0
        ),
    )


def delivery_status(fan: Fan, consent_version: str) -> str:
    """Why a fan does or does not get pushes, from the one consent rule (`data.consent`).

    ``reachable``, ``opted_out``, ``blocked``, ``no_consent`` (never agreed, declined, or
    agreed to an older text), ``deleted``, or ``anonymous`` (imported, never reachable).
    """
    if fan.deleted_at is not None:
        return "deleted"
    if fan.source != "line" or fan.line_user_id is None:
        return "anonymous"
    if is_reachable(fan, consent_version):
        return "reachable"
    if not has_current_consent(fan, consent_version):
        return "no_consent"
    if fan.opted_out_at is not None:
        return "opted_out"
    return "blocked"


@dataclass(frozen=True)
class FanRow:
    id: int
    source: str
    display_name: str | None
    is_following: bool
    consented_at: datetime | None
    deleted_at: datetime | None
    delivery: str  # `delivery_status`
    answers: int
    last_answered_at: datetime | None


MAX_QUERY_LENGTH = 100


def search_condition(query: str) -> ColumnElement[bool]:
    """Fans whose LINE display name contains ``query`` (case-insensitively), or whose id it is."""
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    by_name = Fan.display_name.ilike(f"%{escaped}%", escape="\\")
    return or_(by_name, Fan.id == int(query)) if query.isdigit() and len(query) < 18 else by_name


def list_fans(
    session: Session,
    *,
    source: str | None,
    page: int,
    per_page: int = 50,
    consent_version: str,
    query: str = "",
) -> tuple[list[FanRow], int]:
    """One page of fans, newest first, and how many match filter ``source`` and the search ``query``."""
    answers = (
        select(
            Answer.fan_id,
            func.count().label("answers"),
            func.max(Answer.answered_at).label("last_answered_at"),
        )
        .group_by(Answer.fan_id)
        .subquery()
    )
    conditions = [] if source is None else filter_conditions(source, consent_version)
    if query := query.strip()[:MAX_QUERY_LENGTH]:
        conditions.append(search_condition(query))
    total = int(session.scalar(select(func.count()).select_from(Fan).where(*conditions)) or 0)
    rows = session.execute(
        select(Fan, answers.c.answers, answers.c.last_answered_at)
        .outerjoin(answers, answers.c.fan_id == Fan.id)
        .where(*conditions)
        .order_by(Fan.id.desc())
        .limit(per_page)
        .offset(max(page - 1, 0) * per_page)
    )
    return [
        FanRow(
            id=fan.id,
            source=fan.source,
            display_name=fan.display_name,
            is_following=fan.is_following,
            consented_at=fan.consented_at,
            deleted_at=fan.deleted_at,
            delivery=delivery_status(fan, consent_version),
            answers=int(count or 0),
            last_answered_at=_as_utc(last),
        )
        for fan, count, last in rows
    ], total


def _as_utc(value: datetime | str | None) -> datetime | None:
    # An aggregate bypasses the column type, so SQLite hands back naive text.
    if value is None:
        return None
    from data.models import UTCDateTime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return UTCDateTime().process_result_value(value, None)  # type: ignore[arg-type]


def fan_answers(session: Session, fan_id: int) -> list[Answer]:
    return list(
        session.scalars(select(Answer).where(Answer.fan_id == fan_id).order_by(Answer.answered_at.desc()))
    )
