"""Answers per Tokyo day for the dashboard chart, and the survey coverage figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from data.answer_activity import answers_per_day
from data.answers import record_answer
from data.catalog import load_catalog
from data.models import Fan
from data.survey_coverage import survey_coverage
from data.survey_settings import save_item_setting

NOW = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)  # 21:30 in Tokyo


def fan(session: Session) -> int:
    row = Fan(line_user_id=None, source="import", created_at=NOW)
    session.add(row)
    session.flush()
    return row.id


def test_answers_are_counted_on_their_tokyo_day(db_session: Session) -> None:
    first = fan(db_session)
    record_answer(db_session, first, "likes_super_sento", 1, NOW)  # 11-28 Tokyo
    record_answer(
        db_session, first, "likes_sauna", 1, datetime(2026, 11, 27, 15, 30, tzinfo=UTC)
    )  # 11-28 00:30 Tokyo
    record_answer(
        db_session, first, "goes_to_onsen", 0, datetime(2026, 11, 27, 14, 59, tzinfo=UTC)
    )  # 11-27 23:59
    record_answer(db_session, first, "has_dog", 0, NOW - timedelta(days=40))  # outside the window
    series = answers_per_day(db_session, NOW, days=7)
    assert len(series) == 7
    assert series[-1] == (date(2026, 11, 28), 2)
    assert series[-2] == (date(2026, 11, 27), 1)
    assert sum(count for _, count in series) == 3
    assert series[0][0] == date(2026, 11, 22)


def test_coverage_counts_enabled_items_only(db_session: Session) -> None:
    catalog = load_catalog()
    for _ in range(2):
        record_answer(db_session, fan(db_session), "likes_super_sento", 1, NOW)
    save_item_setting(db_session, "likes_sauna", enabled=False, priority=None, now=NOW)
    coverage = survey_coverage(db_session, catalog)
    assert coverage.respondents == 2
    assert coverage.asked_items == len(catalog) - 1
    assert coverage.answers == 2
    assert coverage.share == 2 / (2 * (len(catalog) - 1))
    assert coverage.thin_items == len(catalog) - 1
