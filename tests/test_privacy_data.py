"""Deleting a fan's data: answers, rounds and personal data go; anonymous counts stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.settings import CONSENT_VERSION
from data.answers import record_answer
from data.consent import has_current_consent, is_reachable
from data.models import Answer, Fan, SurveyRound
from data.privacy import DELETED_ANSWERS, DELETED_FANS, anonymous_count, delete_fan_data, increment_count

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def add_fan(session: Session, user_id: str, answers: dict[str, float]) -> Fan:
    fan = Fan(
        line_user_id=user_id,
        display_name="ファン",
        created_at=NOW,
        followed_at=NOW,
        is_following=True,
        consented_at=NOW,
        consent_version="2026-11",
    )
    session.add(fan)
    session.flush()
    for item_id, value in answers.items():
        record_answer(session, fan.id, item_id, value, NOW)
    session.add(SurveyRound(fan_id=fan.id, item_ids=",".join(answers), started_at=NOW))
    session.flush()
    return fan


def reread(session: Session, fan_id: int) -> Fan:
    """The fan as stored, not the object in memory."""
    session.expire_all()
    stored = session.get(Fan, fan_id)
    assert stored is not None
    return stored


def count(session: Session, model: type[Answer] | type[SurveyRound], fan_id: int) -> int:
    return session.scalar(select(func.count()).select_from(model).where(model.fan_id == fan_id)) or 0


def test_deletion_removes_answers_rounds_and_personal_data(db_session: Session) -> None:
    fan = add_fan(db_session, "U1", {"likes_sauna": 1, "likes_super_sento": 0})
    later = NOW + timedelta(days=1)
    deletion = delete_fan_data(db_session, fan, later)
    db_session.commit()
    assert (deletion.answers, deletion.rounds, deletion.already_deleted) == (2, 1, False)
    assert count(db_session, Answer, fan.id) == 0 and count(db_session, SurveyRound, fan.id) == 0
    db_session.expire_all()
    stored = db_session.get(Fan, fan.id)
    assert stored is not None
    assert stored.line_user_id is None and stored.display_name is None and stored.external_ref is None
    assert stored.consented_at is None and stored.consent_version is None
    assert stored.followed_at is None and not stored.is_following
    assert stored.deleted_at == later and stored.created_at == NOW
    assert not has_current_consent(stored, CONSENT_VERSION) and not is_reachable(stored, CONSENT_VERSION)


def test_deletion_keeps_anonymous_counts_that_add_up(db_session: Session) -> None:
    delete_fan_data(db_session, add_fan(db_session, "U1", {"likes_sauna": 1}), NOW)
    delete_fan_data(db_session, add_fan(db_session, "U2", {"likes_sauna": 0, "has_dog": 1}), NOW)
    delete_fan_data(db_session, add_fan(db_session, "U3", {}), NOW)
    db_session.commit()
    assert anonymous_count(db_session, DELETED_FANS) == 3
    assert anonymous_count(db_session, DELETED_ANSWERS) == 3


def test_deleting_twice_counts_once(db_session: Session) -> None:
    fan = add_fan(db_session, "U1", {"likes_sauna": 1})
    delete_fan_data(db_session, fan, NOW)
    db_session.commit()
    again = delete_fan_data(db_session, reread(db_session, fan.id), NOW + timedelta(hours=1))
    db_session.commit()
    assert again.already_deleted and again.answers == 0
    assert anonymous_count(db_session, DELETED_FANS) == 1
    assert reread(db_session, fan.id).deleted_at == NOW


def test_other_fans_keep_their_data(db_session: Session) -> None:
    gone = add_fan(db_session, "U1", {"likes_sauna": 1})
    kept = add_fan(db_session, "U2", {"likes_sauna": 0})
    delete_fan_data(db_session, gone, NOW)
    db_session.commit()
    assert count(db_session, Answer, kept.id) == 1 and count(db_session, SurveyRound, kept.id) == 1
    stored = reread(db_session, kept.id)
    assert stored.line_user_id == "U2" and stored.display_name == "ファン"
    assert has_current_consent(stored, CONSENT_VERSION) and is_reachable(stored, CONSENT_VERSION)


def test_the_line_user_can_come_back_as_a_new_fan(db_session: Session) -> None:
    old = add_fan(db_session, "U1", {"likes_sauna": 1})
    delete_fan_data(db_session, old, NOW)
    new = add_fan(db_session, "U1", {})
    db_session.commit()
    assert new.id != old.id
    assert reread(db_session, new.id).line_user_id == "U1"
    assert reread(db_session, old.id).line_user_id is None


def test_increment_count_creates_then_adds(db_session: Session) -> None:
    increment_count(db_session, "k", 2)
    increment_count(db_session, "k", 5)
    db_session.commit()
    db_session.expire_all()
    assert anonymous_count(db_session, "k") == 7
    assert anonymous_count(db_session, "missing") == 0
