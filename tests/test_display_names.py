"""Storing a LINE display name needs current consent, checked in the same write."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from bot.settings import CONSENT_VERSION
from data.display_names import store_display_name
from data.models import Fan
from data.privacy import delete_fan_data

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def a_fan(session: Session, user_id: str, *, consented: bool, version: str = CONSENT_VERSION) -> Fan:
    fan = Fan(line_user_id=user_id, source="line", created_at=NOW, is_following=True)
    if consented:
        fan.consented_at, fan.consent_version = NOW, version
    session.add(fan)
    session.flush()
    return fan


def test_the_name_is_stored_for_a_fan_with_current_consent(db_session: Session) -> None:
    fan = a_fan(db_session, "U" + "1" * 32, consented=True)

    assert store_display_name(db_session, fan.line_user_id or "", "  山田   花子 ", CONSENT_VERSION)
    db_session.refresh(fan)
    assert fan.display_name == "山田 花子"


def test_no_name_is_stored_without_current_consent(db_session: Session) -> None:
    never = a_fan(db_session, "U" + "2" * 32, consented=False)
    older = a_fan(db_session, "U" + "3" * 32, consented=True, version="2020-01")

    for fan in (never, older):
        assert not store_display_name(db_session, fan.line_user_id or "", "名前", CONSENT_VERSION)
        db_session.refresh(fan)
        assert fan.display_name is None


def test_a_fan_who_deleted_their_data_meanwhile_gets_no_name(db_session: Session) -> None:
    fan = a_fan(db_session, "U" + "4" * 32, consented=True)
    user_id = fan.line_user_id or ""
    delete_fan_data(db_session, fan, NOW)

    assert not store_display_name(db_session, user_id, "名前", CONSENT_VERSION)
    db_session.refresh(fan)
    assert fan.display_name is None


def test_a_blank_name_is_not_stored(db_session: Session) -> None:
    fan = a_fan(db_session, "U" + "5" * 32, consented=True)

    assert not store_display_name(db_session, fan.line_user_id or "", " \u3000 ", CONSENT_VERSION)
