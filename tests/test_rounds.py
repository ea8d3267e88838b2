"""Survey rounds in the database (`bot.survey.rounds`): one open round per fan, moves that
happen once, and items answered elsewhere passed over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from bot.survey.rounds import (
    CHANGE,
    ROUND_TTL,
    advance,
    current_round,
    latest_round,
    pass_answered_items,
    start_round,
)
from data.answers import record_answer
from data.models import Fan, SurveyRound

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ITEMS = ["likes_sauna", "likes_super_sento", "has_dog", "likes_camping"]


@pytest.fixture
def fan_id(db_session: Session) -> int:
    fan = Fan(line_user_id="U" + "a" * 32, source="line", created_at=NOW)
    db_session.add(fan)
    db_session.flush()
    return fan.id


def behind_its_back(round_id: int, **values: object) -> Any:
    """An UPDATE that leaves the loaded round object as it was (another handler's change)."""
    return (
        update(SurveyRound)
        .where(SurveyRound.id == round_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def stored(session: Session, round_id: int) -> SurveyRound:
    session.expire_all()
    found = session.get(SurveyRound, round_id)
    assert found is not None
    return found


def test_starting_a_round_closes_the_open_one(db_session: Session, fan_id: int) -> None:
    first = start_round(db_session, fan_id, ITEMS[:2], NOW)
    second = start_round(db_session, fan_id, ITEMS[2:], NOW + timedelta(minutes=1))
    db_session.commit()

    assert stored(db_session, first.id).closed_at == NOW + timedelta(minutes=1)
    assert current_round(db_session, fan_id, NOW + timedelta(minutes=2)) == stored(db_session, second.id)


@pytest.mark.parametrize("bad", [[], ["a,b"]], ids=["no-items", "comma-in-id"])
def test_a_round_needs_items_without_commas(db_session: Session, fan_id: int, bad: list[str]) -> None:
    with pytest.raises(ValueError, match=r"needs at least one item|cannot contain ','"):
        start_round(db_session, fan_id, bad, NOW)


def test_a_round_goes_stale_after_its_time_to_live(db_session: Session, fan_id: int) -> None:
    start_round(db_session, fan_id, ITEMS, NOW)
    assert current_round(db_session, fan_id, NOW + ROUND_TTL - timedelta(seconds=1)) is not None
    assert current_round(db_session, fan_id, NOW + ROUND_TTL) is None


def test_latest_round_ignores_change_rounds(db_session: Session, fan_id: int) -> None:
    survey = start_round(db_session, fan_id, ITEMS, NOW)
    start_round(db_session, fan_id, ITEMS[:1], NOW + timedelta(minutes=1), purpose=CHANGE)
    assert latest_round(db_session, fan_id) == survey


def test_advance_moves_once_and_only_past_the_item_being_asked(db_session: Session, fan_id: int) -> None:
    survey_round = start_round(db_session, fan_id, ITEMS[:2], NOW)
    assert advance(db_session, survey_round, ITEMS[1], NOW) is False
    assert advance(db_session, survey_round, ITEMS[0], NOW, skipped=True) is True
    assert survey_round.position == 1 and survey_round.skipped == [ITEMS[0]]
    assert survey_round.closed_at is None
    assert advance(db_session, survey_round, ITEMS[1], NOW)
    assert survey_round.closed_at == NOW and survey_round.current_item_id is None


def test_a_second_advance_from_the_same_position_is_refused(db_session: Session, fan_id: int) -> None:
    survey_round = start_round(db_session, fan_id, ITEMS, NOW)
    # A concurrent handler of the same tap moved the round after this one read it at position 0.
    db_session.execute(behind_its_back(survey_round.id, position=1))

    assert advance(db_session, survey_round, ITEMS[0], NOW) is False
    assert stored(db_session, survey_round.id).position == 1


def test_items_answered_elsewhere_are_passed_and_the_rest_asked(db_session: Session, fan_id: int) -> None:
    survey_round = start_round(db_session, fan_id, ITEMS, NOW)
    advance(db_session, survey_round, ITEMS[0], NOW)
    record_answer(db_session, fan_id, ITEMS[1], 1, NOW)
    record_answer(db_session, fan_id, ITEMS[3], 1, NOW)  # later in the round: passed when reached

    assert pass_answered_items(db_session, survey_round, NOW) == 1
    assert survey_round.current_item_id == ITEMS[2]
    assert survey_round.skipped == []  # passed, not skipped by the fan
    assert pass_answered_items(db_session, survey_round, NOW) == 0
    assert advance(db_session, survey_round, ITEMS[2], NOW)
    assert pass_answered_items(db_session, survey_round, NOW + timedelta(minutes=1)) == 1
    assert stored(db_session, survey_round.id).closed_at == NOW + timedelta(minutes=1)


def test_nothing_is_passed_when_nothing_was_answered(db_session: Session, fan_id: int) -> None:
    survey_round = start_round(db_session, fan_id, ITEMS, NOW)
    record_answer(db_session, fan_id, "owns_team_goods", 1, NOW)  # not in this round

    assert pass_answered_items(db_session, survey_round, NOW) == 0
    assert survey_round.position == 0 and survey_round.closed_at is None


def test_answers_of_other_fans_do_not_move_the_round(db_session: Session, fan_id: int) -> None:
    other = Fan(line_user_id="U" + "b" * 32, source="line", created_at=NOW)
    db_session.add(other)
    db_session.flush()
    survey_round = start_round(db_session, fan_id, ITEMS, NOW)
    record_answer(db_session, other.id, ITEMS[0], 1, NOW)

    assert pass_answered_items(db_session, survey_round, NOW) == 0


def test_change_rounds_and_closed_rounds_are_left_alone(db_session: Session, fan_id: int) -> None:
    record_answer(db_session, fan_id, ITEMS[0], 1, NOW)
    change = start_round(db_session, fan_id, ITEMS[:1], NOW, purpose=CHANGE)
    assert pass_answered_items(db_session, change, NOW) == 0 and change.position == 0

    survey_round = start_round(db_session, fan_id, ITEMS[:1], NOW)
    db_session.execute(behind_its_back(survey_round.id, closed_at=NOW))
    db_session.refresh(survey_round)
    assert pass_answered_items(db_session, survey_round, NOW) == 0 and survey_round.position == 0


def test_passing_is_refused_when_the_round_moved_since_it_was_read(db_session: Session, fan_id: int) -> None:
    survey_round = start_round(db_session, fan_id, ITEMS, NOW)
    record_answer(db_session, fan_id, ITEMS[0], 1, NOW)
    # Another handler moved the round on after this one read it at position 0.
    db_session.execute(behind_its_back(survey_round.id, position=2))

    assert pass_answered_items(db_session, survey_round, NOW) == 0
    assert survey_round.position == 2


def test_stored_purposes_are_the_values_existing_rows_hold(db_session: Session, fan_id: int) -> None:
    # Rows written by earlier releases say "survey" and "change": the constants must keep them.
    start_round(db_session, fan_id, ITEMS[:1], NOW)
    start_round(db_session, fan_id, ITEMS[:1], NOW, purpose=CHANGE)
    db_session.commit()
    stored_purposes = db_session.execute(text("SELECT purpose FROM survey_rounds ORDER BY id")).scalars()
    assert list(stored_purposes) == ["survey", "change"]


def test_a_round_started_a_day_ago_is_no_longer_current(db_session: Session, fan_id: int) -> None:
    start_round(db_session, fan_id, ITEMS, NOW)
    assert current_round(db_session, fan_id, NOW + timedelta(hours=23, minutes=59)) is not None
    assert current_round(db_session, fan_id, NOW + timedelta(hours=24)) is None


def test_a_round_already_past_its_last_item_is_left_as_it_is(db_session: Session, fan_id: int) -> None:
    survey_round = start_round(db_session, fan_id, ITEMS[:2], NOW)
    record_answer(db_session, fan_id, ITEMS[0], 1, NOW)
    db_session.execute(behind_its_back(survey_round.id, position=2))
    db_session.refresh(survey_round)

    assert pass_answered_items(db_session, survey_round, NOW) == 0
    assert survey_round.position == 2 and survey_round.closed_at is None
