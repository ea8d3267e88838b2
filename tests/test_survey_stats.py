"""Per-item survey statistics for the marketer."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy.orm import Session

from data.answers import record_answer
from data.catalog import Catalog, load_catalog
from data.models import AnonymousCount, Fan
from data.survey_stats import ITEMS_PER_QUERY, anonymous_counts, item_stats

NOW = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)
BASEBALL = "interested_pro_baseball"  # yes_no
SOCCER = "interested_pro_soccer"  # yes_no
LIVE_GAMES = "live_games_per_year"  # count

# (respondent, item, value): a line fan, two imported respondents, one stray item id.
ANSWERS = [
    ("line", BASEBALL, 1.0),
    ("line", LIVE_GAMES, 12.0),
    ("a", BASEBALL, 0.0),
    ("a", LIVE_GAMES, 3.0),
    ("a", SOCCER, 1.0),
    ("b", BASEBALL, 1.0),
    ("b", LIVE_GAMES, 0.0),
    ("b", "retired_item", 1.0),
]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def answered(db_session: Session) -> Session:
    fans = {
        "line": Fan(line_user_id="U" + "1" * 32, source="line"),
        "a": Fan(source="import", external_ref="import:a"),
        "b": Fan(source="import", external_ref="import:b"),
    }
    db_session.add_all(fans.values())
    db_session.flush()
    for who, item_id, value in ANSWERS:
        record_answer(db_session, fans[who].id, item_id, value, NOW)
    db_session.flush()
    return db_session


def test_every_catalog_item_is_listed_in_catalog_order(answered: Session, catalog: Catalog) -> None:
    stats = item_stats(answered, catalog)

    assert [s.item_id for s in stats] == list(catalog)
    assert [s.text_ja for s in stats] == [item.text_ja for item in catalog.values()]


def test_yes_share_and_mean_match_pandas_on_the_same_answers(answered: Session, catalog: Catalog) -> None:
    # Reference computed independently: pandas over the raw (respondent, item, value) list.
    frame = pd.DataFrame(ANSWERS, columns=["who", "item_id", "value"])
    expected = frame.groupby("item_id")["value"].agg(["count", "mean"])

    stats = {s.item_id: s for s in item_stats(answered, catalog)}

    for item_id in (BASEBALL, SOCCER, LIVE_GAMES):
        assert stats[item_id].answered == expected.loc[item_id, "count"]
    assert stats[BASEBALL].yes_share == pytest.approx(expected.loc[BASEBALL, "mean"])  # 2/3
    assert stats[BASEBALL].mean is None
    assert stats[LIVE_GAMES].mean == pytest.approx(5.0)  # (12 + 3 + 0) / 3
    assert stats[LIVE_GAMES].yes_share is None
    assert stats[SOCCER].value == 1.0


def test_items_nobody_answered_show_zero_and_no_value(answered: Session, catalog: Catalog) -> None:
    stats = {s.item_id: s for s in item_stats(answered, catalog)}

    unanswered = stats["interested_pro_basketball"]
    assert (unanswered.answered, unanswered.yes_share, unanswered.mean) == (0, None, None)


def test_answers_to_items_not_in_the_catalog_are_left_out(answered: Session, catalog: Catalog) -> None:
    stats = item_stats(answered, catalog)

    assert "retired_item" not in {s.item_id for s in stats}
    assert sum(s.answered for s in stats) == len(ANSWERS) - 1


def test_progress_reports_every_item_once(answered: Session, catalog: Catalog) -> None:
    steps: list[int] = []

    item_stats(answered, catalog, progress=steps.append)

    assert sum(steps) == len(catalog)
    assert max(steps) <= ITEMS_PER_QUERY


def test_anonymous_counts_kept_after_deletions_are_listed(db_session: Session) -> None:
    assert anonymous_counts(db_session) == {}
    db_session.add(AnonymousCount(key="deleted_fans", count=3))
    db_session.flush()

    assert anonymous_counts(db_session) == {"deleted_fans": 3}
