"""Which survey items a fan is asked next.

Plain functions on a `Session`: the chat calls them, and so can a CLI or a test.
Items that active campaigns need come first, because a coupon can only target
fans who answered them; after that, the items with the fewest answers across
all fans, so the correlation analysis gets enough pairs for every item.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.catalog import Catalog
from data.models import Answer, SurveyRound
from data.survey_settings import disabled_items

# A fan who skipped an item this often is not asked it again, unless a campaign needs it.
RETIRE_AFTER_SKIPS = 2

# Returns the item ids to ask first, most important first; unknown ids are ignored.
PriorityProvider = Callable[[Session], list[str]]

# Until campaigns say otherwise: the items behind the source material's finding
# (watching games live goes with super sento), plus the neighbouring bath items.
DEFAULT_PRIORITY_ITEMS: tuple[str, ...] = (
    "watches_sports_live_yearly",
    "likes_super_sento",
    "live_games_per_year",
    "likes_sauna",
    "goes_to_onsen",
    "interested_pro_basketball",
)


def configured_priority(items: Sequence[str] = DEFAULT_PRIORITY_ITEMS) -> PriorityProvider:
    """A provider that always returns ``items``, for when no campaign supplies its own."""
    fixed = list(items)

    def provider(_session: Session) -> list[str]:
        return list(fixed)

    return provider


def answer_counts(session: Session) -> dict[str, int]:
    """How many respondents answered each item (items nobody answered are absent)."""
    rows = session.execute(select(Answer.item_id, func.count()).group_by(Answer.item_id))
    return {item_id: int(count) for item_id, count in rows}


def choose_next_items(
    session: Session,
    fan_id: int,
    catalog: Catalog,
    priority_items: Sequence[str],
    k: int = 5,
    exclude: Collection[str] = (),
    counts: Mapping[str, int] | None = None,
    last: Sequence[str] = (),
) -> list[str]:
    """Up to ``k`` item ids to ask ``fan_id`` next, in asking order.

    Priority items come first in the order given; the rest follow by fewest
    answers across fans, ties broken by catalog order; the items in ``last`` (skipped
    before) come only after all of those, in the order given. Items the fan already
    answered, items in ``exclude``, items disabled on the survey page and ids not in
    the catalog are never chosen.
    ``counts`` (answers per item) may come from a cache; by default it is counted now.
    """
    if k <= 0:
        return []
    answered = set(session.scalars(select(Answer.item_id).where(Answer.fan_id == fan_id)))
    # Items a marketer switched off on the survey page are never asked.
    blocked = answered | set(exclude) | disabled_items(session)
    later = [item_id for item_id in last if item_id in catalog and item_id not in blocked]
    chosen = _choose_first(session, blocked | set(later), catalog, priority_items, k, counts)
    for item_id in later:
        if len(chosen) == k:
            break
        if item_id not in chosen:
            chosen.append(item_id)
    return chosen


def _choose_first(
    session: Session,
    blocked: set[str],
    catalog: Catalog,
    priority_items: Sequence[str],
    k: int,
    counts: Mapping[str, int] | None,
) -> list[str]:
    chosen: list[str] = []
    for item_id in priority_items:
        if item_id in catalog and item_id not in blocked and item_id not in chosen:
            chosen.append(item_id)
            if len(chosen) == k:
                return chosen
    taken = set(chosen)
    if all(item_id in blocked or item_id in taken for item_id in catalog):
        return chosen  # nothing left to rank: skip counting every answer in the database
    if counts is None:
        counts = answer_counts(session)
    # sorted() is stable, so equal counts keep catalog order.
    rest = sorted(
        (item_id for item_id in catalog if item_id not in blocked and item_id not in taken),
        key=lambda item_id: counts.get(item_id, 0),
    )
    return chosen + rest[: k - len(chosen)]


def skip_history(session: Session, fan_id: int) -> dict[str, int]:
    """How often ``fan_id`` skipped each item in survey rounds; the dict ends with the latest skip."""
    rows = session.scalars(
        select(SurveyRound.skipped_item_ids)
        .where(
            SurveyRound.fan_id == fan_id,
            SurveyRound.purpose == "survey",
            SurveyRound.skipped_item_ids != "",
        )
        .order_by(SurveyRound.started_at, SurveyRound.id)
    )
    skips: dict[str, int] = {}
    for joined in rows:
        for item_id in joined.split(","):
            if item_id:
                # Re-inserting moves the item to the end, so dict order is skip order.
                skips[item_id] = skips.pop(item_id, 0) + 1
    return skips


def retired_items(skips: Mapping[str, int], priority_items: Collection[str]) -> set[str]:
    """Items skipped `RETIRE_AFTER_SKIPS` times, except those a campaign needs answered."""
    return {item_id for item_id, times in skips.items() if times >= RETIRE_AFTER_SKIPS} - set(priority_items)


def items_left(session: Session, fan_id: int, catalog: Catalog, retired: Collection[str]) -> int:
    """How many catalog items ``fan_id`` may still be asked (not answered, not retired)."""
    answered = set(session.scalars(select(Answer.item_id).where(Answer.fan_id == fan_id)))
    skipped = answered | set(retired) | disabled_items(session)
    return sum(1 for item_id in catalog if item_id not in skipped)


__all__ = [
    "DEFAULT_PRIORITY_ITEMS",
    "RETIRE_AFTER_SKIPS",
    "PriorityProvider",
    "answer_counts",
    "choose_next_items",
    "configured_priority",
    "items_left",
    "retired_items",
    "skip_history",
]
