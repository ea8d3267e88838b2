"""Survey rounds in the database: open one, find the current one, move it on.

Plain functions on a `Session`, no Flask. A fan has at most one current round:
starting a round closes the others, so buttons of earlier rounds become stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from data.models import Answer, SurveyRound

# A round left unfinished for longer than this no longer takes typed answers or taps,
# so a number typed days later is not silently taken as an answer to an old question.
ROUND_TTL = timedelta(hours=24)

SURVEY = "survey"
CHANGE = "change"


def current_round(session: Session, fan_id: int, now: datetime) -> SurveyRound | None:
    """The fan's open round, if it is still fresh."""
    return session.scalars(
        select(SurveyRound)
        .where(
            SurveyRound.fan_id == fan_id,
            SurveyRound.closed_at.is_(None),
            SurveyRound.started_at > now - ROUND_TTL,
        )
        .order_by(SurveyRound.started_at.desc(), SurveyRound.id.desc())
        .limit(1)
    ).first()


def latest_round(session: Session, fan_id: int) -> SurveyRound | None:
    """The fan's most recently started survey round (not a change round), open or closed."""
    return session.scalars(
        select(SurveyRound)
        .where(SurveyRound.fan_id == fan_id, SurveyRound.purpose == SURVEY)
        .order_by(SurveyRound.started_at.desc(), SurveyRound.id.desc())
        .limit(1)
    ).first()


def close_open_rounds(session: Session, fan_id: int, now: datetime) -> None:
    session.execute(
        update(SurveyRound)
        .where(SurveyRound.fan_id == fan_id, SurveyRound.closed_at.is_(None))
        .values(closed_at=now)
        .execution_options(synchronize_session="fetch")
    )


def start_round(
    session: Session, fan_id: int, item_ids: Sequence[str], now: datetime, purpose: str = SURVEY
) -> SurveyRound:
    """Close the fan's open rounds and open a new one asking ``item_ids`` in order."""
    if not item_ids:
        raise ValueError("a round needs at least one item")
    if any("," in item_id for item_id in item_ids):
        raise ValueError("item ids cannot contain ','")
    close_open_rounds(session, fan_id, now)
    survey_round = SurveyRound(
        fan_id=fan_id,
        purpose=purpose,
        item_ids=",".join(item_ids),
        position=0,
        skipped_item_ids="",
        started_at=now,
    )
    session.add(survey_round)
    session.flush()
    return survey_round


def advance(
    session: Session, survey_round: SurveyRound, item_id: str, now: datetime, *, skipped: bool = False
) -> bool:
    """Move the round past ``item_id``; False when it is no longer the item being asked.

    A conditional UPDATE on the position the caller saw, so two taps of the same
    button handled at once move the round only once.
    """
    position = survey_round.position
    if survey_round.current_item_id != item_id:
        return False
    skipped_ids = [*survey_round.skipped, item_id] if skipped else survey_round.skipped
    last = position + 1 >= len(survey_round.items)
    result = cast(
        CursorResult[Any],
        session.execute(
            update(SurveyRound)
            .where(
                SurveyRound.id == survey_round.id,
                SurveyRound.position == position,
                SurveyRound.closed_at.is_(None),
            )
            .values(
                position=position + 1,
                skipped_item_ids=",".join(skipped_ids),
                closed_at=now if last else None,
            )
            .execution_options(synchronize_session=False),
        ),
    )
    session.refresh(survey_round)
    return result.rowcount == 1


def pass_answered_items(session: Session, survey_round: SurveyRound, now: datetime) -> int:
    """Move a survey round past the items the fan answered elsewhere meanwhile; how many it passed.

    A round picks unanswered items when it starts, but an answer can arrive by another way
    before the round reaches it (an imported file naming the fan, another round opened
    from a second device...): asking it again would overwrite a fresh answer with a
    repeated question. A change round asks answered items on purpose and is left alone.
    Like `advance`, one conditional UPDATE on the position the caller saw.
    """
    if survey_round.purpose != SURVEY or survey_round.closed_at is not None:
        return 0
    items, position = survey_round.items, survey_round.position
    remaining = items[position:]
    if not remaining:
        return 0
    answered = set(
        session.scalars(
            select(Answer.item_id).where(Answer.fan_id == survey_round.fan_id, Answer.item_id.in_(remaining))
        )
    )
    target = position
    while target < len(items) and items[target] in answered:
        target += 1
    if target == position:
        return 0
    result = cast(
        CursorResult[Any],
        session.execute(
            update(SurveyRound)
            .where(
                SurveyRound.id == survey_round.id,
                SurveyRound.position == position,
                SurveyRound.closed_at.is_(None),
            )
            .values(position=target, closed_at=now if target >= len(items) else None)
            .execution_options(synchronize_session=False),
        ),
    )
    session.refresh(survey_round)
    return target - position if result.rowcount == 1 else 0


__all__ = [
    "CHANGE",
    "ROUND_TTL",
    "SURVEY",
    "advance",
    "close_open_rounds",
    "current_round",
    "latest_round",
    "pass_answered_items",
    "start_round",
]
