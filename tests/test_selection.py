"""Choosing the next survey items: campaign items first, then the least answered, never twice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from data.answers import record_answer
from data.catalog import Catalog, load_catalog, parse_catalog
from data.models import Fan
from data.survey_selection import (
    DEFAULT_PRIORITY_ITEMS,
    answer_counts,
    choose_next_items,
    configured_priority,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

CATALOG_CSV = """id,category,sports_related,text_ja,text_en,answer_type,unit,max
a,spectating,1,A,A,yes_no,,
b,spectating,1,B,B,yes_no,,
c,leisure_outdoor,0,C,C,yes_no,,
d,leisure_outdoor,0,D,D,yes_no,,
e,food_drink,0,E,E,count,days_per_week,7
f,food_drink,0,F,F,yes_no,,
g,pets,0,G,G,yes_no,,
"""


@pytest.fixture
def catalog() -> Catalog:
    return parse_catalog(CATALOG_CSV)


def add_fan(session: Session, answers: dict[str, float] | None = None) -> int:
    fan = Fan(line_user_id=None, source="import", created_at=NOW)
    session.add(fan)
    session.flush()
    for item_id, value in (answers or {}).items():
        record_answer(session, fan.id, item_id, value, NOW)
    return fan.id


def test_without_priorities_or_answers_items_come_in_catalog_order(
    db_session: Session, catalog: Catalog
) -> None:
    fan = add_fan(db_session)
    assert choose_next_items(db_session, fan, catalog, [], k=5) == ["a", "b", "c", "d", "e"]


def test_priority_items_come_first_in_the_order_given(db_session: Session, catalog: Catalog) -> None:
    fan = add_fan(db_session)
    assert choose_next_items(db_session, fan, catalog, ["f", "c"], k=4) == ["f", "c", "a", "b"]


def test_least_answered_items_follow_with_ties_in_catalog_order(
    db_session: Session, catalog: Catalog
) -> None:
    add_fan(db_session, {"a": 1, "b": 1, "c": 0, "e": 3})
    add_fan(db_session, {"a": 0, "b": 1, "d": 1})
    add_fan(db_session, {"a": 1})
    fan = add_fan(db_session)
    # counts: a=3, b=2, c=1, d=1, e=1, f=0, g=0
    assert choose_next_items(db_session, fan, catalog, [], k=7) == ["f", "g", "c", "d", "e", "b", "a"]
    assert choose_next_items(db_session, fan, catalog, ["a"], k=3) == ["a", "f", "g"]


def test_items_the_fan_answered_are_never_chosen(db_session: Session, catalog: Catalog) -> None:
    fan = add_fan(db_session, {"a": 1, "f": 0, "e": 2})
    chosen = choose_next_items(db_session, fan, catalog, ["f", "a", "g"], k=10)
    assert chosen == ["g", "b", "c", "d"]


def test_excluded_unknown_and_repeated_priority_ids_are_left_out(
    db_session: Session, catalog: Catalog
) -> None:
    fan = add_fan(db_session)
    chosen = choose_next_items(db_session, fan, catalog, ["zzz", "d", "d", "b"], k=4, exclude={"b", "a"})
    assert chosen == ["d", "c", "e", "f"]


def test_fewer_than_k_when_few_remain_and_none_when_all_answered(
    db_session: Session, catalog: Catalog
) -> None:
    fan = add_fan(db_session, {item: 0 for item in "abcde"})
    assert choose_next_items(db_session, fan, catalog, [], k=5) == ["f", "g"]
    record_answer(db_session, fan, "f", 1, NOW)
    record_answer(db_session, fan, "g", 1, NOW)
    assert choose_next_items(db_session, fan, catalog, ["a"], k=5) == []
    assert choose_next_items(db_session, fan, catalog, [], k=0) == []


def test_answer_counts_count_respondents_per_item(db_session: Session) -> None:
    add_fan(db_session, {"a": 1, "b": 0})
    add_fan(db_session, {"a": 0})
    assert answer_counts(db_session) == {"a": 2, "b": 1}


def test_default_priority_items_exist_in_the_real_catalog() -> None:
    catalog = load_catalog()
    assert DEFAULT_PRIORITY_ITEMS
    assert all(item in catalog for item in DEFAULT_PRIORITY_ITEMS)
    assert {"likes_super_sento", "likes_sauna", "live_games_per_year"} <= set(DEFAULT_PRIORITY_ITEMS)


def test_configured_priority_hands_out_copies(db_session: Session) -> None:
    provider = configured_priority(["b", "a"])
    first = provider(db_session)
    first.append("x")
    assert provider(db_session) == ["b", "a"]


def test_given_counts_decide_the_order_without_counting_again(db_session: Session, catalog: Catalog) -> None:
    fan = add_fan(db_session, {"a": 1})
    counts = {"a": 9, "b": 0, "c": 5, "d": 1, "e": 9, "f": 9, "g": 9}
    assert choose_next_items(db_session, fan, catalog, [], k=3, counts=counts) == ["b", "d", "c"]


def test_answer_count_cache_recounts_only_after_its_time(db_session: Session) -> None:
    from bot.survey import AnswerCountCache

    now = [0.0]
    cache = AnswerCountCache(ttl_seconds=60, clock=lambda: now[0])
    fan = add_fan(db_session, {"a": 1.0})
    assert cache.get(db_session) == {"a": 1}
    record_answer(db_session, fan, "b", 1.0, NOW)
    now[0] = 59.0
    assert cache.get(db_session) == {"a": 1}
    now[0] = 60.0
    assert cache.get(db_session) == {"a": 1, "b": 1}
