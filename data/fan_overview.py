"""What the marketer's pages show about fans: counts, a paged list, one fan's answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.consent import current_consent_clause, reachable_clause
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


@dataclass(frozen=True)
class FanRow:
    id: int
    source: str
    is_following: bool
    consented_at: datetime | None
    opted_out_at: datetime | None
    deleted_at: datetime | None
    answers: int
    last_answered_at: datetime | None


def fan_counts(session: Session, now: datetime, consent_version: str) -> FanCounts:
    """Headline counts; ``consented`` counts current consent only (`data.consent`)."""

    def count(*conditions: object) -> int:
        return int(session.scalar(select(func.count()).select_from(Fan).where(*conditions)) or 0)  # type: ignore[arg-type]

    line = Fan.source == "line"
    deleted_before = session.get(AnonymousCount, "deleted_fans")
    return FanCounts(
        line_fans=count(line, Fan.deleted_at.is_(None)),
        following=count(line, Fan.is_following.is_(True), Fan.deleted_at.is_(None)),
        consented=count(line, current_consent_clause(consent_version)),
        reachable=count(line, reachable_clause(consent_version)),
        opted_out=count(line, Fan.opted_out_at.is_not(None), Fan.deleted_at.is_(None)),
        deleted=max(count(Fan.deleted_at.is_not(None)), deleted_before.count if deleted_before else 0),
        anonymous_respondents=count(Fan.source != "line"),
        answers=int(session.scalar(select(func.count()).select_from(Answer)) or 0),
        answers_last_day=int(
            session.scalar(
                select(func.count()).select_from(Answer).where(Answer.answered_at >= now - timedelta(days=1))
            )
            or 0
        ),
    )


def list_fans(
    session: Session, *, source: str | None, page: int, per_page: int = 50
) -> tuple[list[FanRow], int]:
    """One page of fans, newest first, and the total number of fans matching ``source``."""
    answers = (
        select(
            Answer.fan_id,
            func.count().label("answers"),
            func.max(Answer.answered_at).label("last_answered_at"),
        )
        .group_by(Answer.fan_id)
        .subquery()
    )
    conditions = [] if source is None else [Fan.source == source]
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
            is_following=fan.is_following,
            consented_at=fan.consented_at,
            opted_out_at=fan.opted_out_at,
            deleted_at=fan.deleted_at,
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
