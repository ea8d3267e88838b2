"""The marketer's survey settings: disabled items are never asked, prioritised items come first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from data.catalog import Catalog, parse_catalog
from data.models import Fan
from data.survey_selection import choose_next_items
from data.survey_settings import disabled_items, priority_provider, save_item_setting

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

CATALOG_CSV = """id,category,sports_related,text_ja,text_en,answer_type,unit,max
a,spectating,1,A,A,yes_no,,
b,spectating,1,B,B,yes_no,,
c,leisure_outdoor,0,C,C,yes_no,,
d,leisure_outdoor,0,D,D,yes_no,,
"""


@pytest.fixture
def catalog() -> Catalog:
    return parse_catalog(CATALOG_CSV)


def new_fan(session: Session) -> int:
    fan = Fan(line_user_id=None, source="import", created_at=NOW)
    session.add(fan)
    session.flush()
    return fan.id


def test_a_disabled_item_is_never_chosen(db_session: Session, catalog: Catalog) -> None:
    fan = new_fan(db_session)
    save_item_setting(db_session, "b", enabled=False, priority=None, now=NOW)
    assert choose_next_items(db_session, fan, catalog, ["b", "a"], k=4) == ["a", "c", "d"]
    assert disabled_items(db_session) == {"b"}


def test_re_enabling_brings_the_item_back(db_session: Session, catalog: Catalog) -> None:
    fan = new_fan(db_session)
    save_item_setting(db_session, "b", enabled=False, priority=None, now=NOW)
    save_item_setting(db_session, "b", enabled=True, priority=None, now=NOW)
    assert "b" in choose_next_items(db_session, fan, catalog, [], k=4)


def test_priorities_order_the_provider_and_fall_back_to_the_default(db_session: Session) -> None:
    provider = priority_provider(["c", "d"])
    assert provider(db_session) == ["c", "d"]
    save_item_setting(db_session, "d", enabled=False, priority=None, now=NOW)
    assert provider(db_session) == ["c"]  # a disabled default is not pushed either
    save_item_setting(db_session, "b", enabled=True, priority=2, now=NOW)
    save_item_setting(db_session, "a", enabled=True, priority=5, now=NOW)
    save_item_setting(db_session, "c", enabled=False, priority=1, now=NOW)
    assert provider(db_session) == ["b", "a"]


def test_priority_out_of_range_is_refused(db_session: Session) -> None:
    with pytest.raises(ValueError, match="between 1 and 999"):
        save_item_setting(db_session, "a", enabled=True, priority=0, now=NOW)
