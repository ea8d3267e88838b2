"""The marketer's survey settings: which catalog items are asked, and which come first.

Disabled items are never chosen for a fan (`data.survey_selection.choose_next_items` asks
`disabled_items`); items with a priority are asked before the rest, lowest number first
(`priority_provider`). Answers already stored for a disabled item stay and are still analysed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import SurveyItemSetting

MAX_PRIORITY = 999


@dataclass(frozen=True)
class ItemSetting:
    item_id: str
    enabled: bool
    priority: int | None


def item_settings(session: Session) -> dict[str, ItemSetting]:
    return {
        row.item_id: ItemSetting(row.item_id, row.enabled, row.priority)
        for row in session.scalars(select(SurveyItemSetting))
    }


def disabled_items(session: Session) -> set[str]:
    return set(session.scalars(select(SurveyItemSetting.item_id).where(SurveyItemSetting.enabled.is_(False))))


def prioritized_items(session: Session) -> list[str]:
    """Enabled items with a priority, in asking order (priority, then item id)."""
    return list(
        session.scalars(
            select(SurveyItemSetting.item_id)
            .where(SurveyItemSetting.enabled.is_(True), SurveyItemSetting.priority.is_not(None))
            .order_by(SurveyItemSetting.priority, SurveyItemSetting.item_id)
        )
    )


def save_item_setting(
    session: Session, item_id: str, *, enabled: bool, priority: int | None, now: datetime
) -> None:
    if priority is not None and not 1 <= priority <= MAX_PRIORITY:
        raise ValueError(f"priority must be between 1 and {MAX_PRIORITY}, got {priority}")
    row = session.get(SurveyItemSetting, item_id)
    if row is None:
        session.add(SurveyItemSetting(item_id=item_id, enabled=enabled, priority=priority, updated_at=now))
    else:
        row.enabled = enabled
        row.priority = priority
        row.updated_at = now
    session.flush()


def priority_provider(default: Sequence[str]) -> Callable[[Session], list[str]]:
    """The survey's `PriorityProvider`: the marketer's prioritised items, or ``default`` when none are set."""
    fallback = list(default)

    def provider(session: Session) -> list[str]:
        chosen = prioritized_items(session)
        if chosen:
            return chosen
        disabled = disabled_items(session)
        return [item for item in fallback if item not in disabled]

    return provider
