"""A fan's right to leave: deleting their data while keeping only anonymous counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from data.database import upsert
from data.models import AnonymousCount, Answer, Fan, SurveyRound
from data.outbox import forget_fan

DELETED_FANS = "deleted_fans"
DELETED_ANSWERS = "deleted_answers"


@dataclass(frozen=True)
class Deletion:
    """What one deletion removed."""

    answers: int
    rounds: int
    already_deleted: bool = False


def increment_count(session: Session, key: str, by: int = 1) -> None:
    """Add ``by`` to an anonymous counter, creating it at zero first.

    An upsert, so two deletions at once cannot lose an increment.
    """
    session.execute(
        upsert(
            session,
            AnonymousCount,
            {"key": key, "count": by},
            keys=("key",),
            update=lambda _proposed: {"count": AnonymousCount.count + by},
        )
    )


def delete_fan_data(session: Session, fan: Fan, now: datetime) -> Deletion:
    """Remove ``fan``'s answers, survey rounds and personal data; count the deletion anonymously.

    The fan row stays as a bare skeleton (id, creation time, ``deleted_at``) so
    nothing that referenced it breaks; with ``line_user_id`` gone, the LINE user
    is a stranger to fanbot until they follow again. Deleting twice is harmless.
    """
    if fan.deleted_at is not None:
        return Deletion(answers=0, rounds=0, already_deleted=True)
    answers = session.scalar(select(func.count()).select_from(Answer).where(Answer.fan_id == fan.id)) or 0
    rounds = (
        session.scalar(select(func.count()).select_from(SurveyRound).where(SurveyRound.fan_id == fan.id)) or 0
    )
    session.execute(delete(Answer).where(Answer.fan_id == fan.id))
    session.execute(delete(SurveyRound).where(SurveyRound.fan_id == fan.id))
    # Queued and sent pushes keep neither the LINE user id nor a personal text.
    forget_fan(session, fan.id)
    # A collection loaded earlier in this session would still list the deleted rows.
    session.expire(fan, ["answers"])
    fan.line_user_id = None
    fan.display_name = None
    fan.external_ref = None
    fan.consented_at = None
    fan.consent_version = None
    fan.consent_declined_at = None
    fan.opted_out_at = None
    fan.followed_at = None
    fan.unfollowed_at = None
    fan.is_following = False
    fan.deleted_at = now
    increment_count(session, DELETED_FANS, 1)
    if answers:
        increment_count(session, DELETED_ANSWERS, answers)
    session.flush()
    return Deletion(answers=answers, rounds=rounds)


def anonymous_count(session: Session, key: str) -> int:
    return session.scalar(select(AnonymousCount.count).where(AnonymousCount.key == key)) or 0


__all__ = [
    "DELETED_ANSWERS",
    "DELETED_FANS",
    "Deletion",
    "anonymous_count",
    "delete_fan_data",
    "increment_count",
]
