"""Per-item survey statistics for the marketer: how many answered, the yes share or the mean.

Computed in the database (``GROUP BY item_id`` with ``COUNT``/``AVG``) so a large
answers table is never loaded into Python. The items are aggregated a slice at a
time, using the ``item_id`` index, so a progress callback can report real work done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.catalog import AnswerType, Catalog
from data.models import AnonymousCount, Answer

__all__ = ["ITEMS_PER_QUERY", "ItemStat", "anonymous_counts", "item_stats"]

ITEMS_PER_QUERY = 20

Progress = Callable[[int], object]  # called with how many more items are done; result ignored


@dataclass(frozen=True)
class ItemStat:
    item_id: str
    text_ja: str
    answer_type: AnswerType
    answered: int
    yes_share: float | None  # yes_no items: share of "yes" among those who answered
    mean: float | None  # count items: mean of the answers

    @property
    def value(self) -> float | None:
        return self.yes_share if self.answer_type == "yes_no" else self.mean


def item_stats(session: Session, catalog: Catalog, progress: Progress | None = None) -> list[ItemStat]:
    """One `ItemStat` per catalog item, in catalog order (items nobody answered: 0 and None).

    Answers to item ids that are not in the catalog are ignored. Deleted fans have
    no answers left, so they are not counted; anonymous imported respondents are.
    """
    ids = list(catalog)
    totals: dict[str, tuple[int, float | None]] = {}
    for start in range(0, len(ids), ITEMS_PER_QUERY):
        chunk = ids[start : start + ITEMS_PER_QUERY]
        totals.update(_aggregate(session, chunk))
        if progress is not None:
            progress(len(chunk))
    stats: list[ItemStat] = []
    for item in catalog.values():
        answered, mean = totals.get(item.id, (0, None))
        stats.append(
            ItemStat(
                item_id=item.id,
                text_ja=item.text_ja,
                answer_type=item.answer_type,
                answered=answered,
                yes_share=mean if item.is_yes_no else None,
                mean=None if item.is_yes_no else mean,
            )
        )
    return stats


def _aggregate(session: Session, item_ids: Sequence[str]) -> dict[str, tuple[int, float | None]]:
    query = (
        select(Answer.item_id, func.count(Answer.id), func.avg(Answer.value))
        .where(Answer.item_id.in_(item_ids))
        .group_by(Answer.item_id)
    )
    return {
        item_id: (int(count), float(mean) if mean is not None else None)
        for item_id, count, mean in session.execute(query)
    }


def anonymous_counts(session: Session) -> dict[str, int]:
    """Counters kept after data deletions (for example ``deleted_fans``), by key."""
    rows = session.execute(select(AnonymousCount.key, AnonymousCount.count).order_by(AnonymousCount.key))
    return {key: int(count) for key, count in rows}
