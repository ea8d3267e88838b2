"""How completely the survey is answered: the dashboard's coverage figures."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from data.catalog import Catalog
from data.models import Answer
from data.survey_settings import disabled_items

# Below this many answers an item's correlations are too uncertain to read.
THIN_ITEM_ANSWERS = 30


@dataclass(frozen=True)
class SurveyCoverage:
    respondents: int
    asked_items: int  # enabled catalog items
    answers: int  # answers to enabled items
    thin_items: int  # enabled items with fewer than THIN_ITEM_ANSWERS answers

    @property
    def share(self) -> float | None:
        """Answers over (respondents x enabled items): how full the answer matrix is."""
        cells = self.respondents * self.asked_items
        return self.answers / cells if cells else None


def survey_coverage(session: Session, catalog: Catalog) -> SurveyCoverage:
    enabled = [item_id for item_id in catalog if item_id not in disabled_items(session)]
    per_item: dict[str, int] = {
        item_id: int(count)
        for item_id, count in session.execute(
            select(Answer.item_id, func.count()).where(Answer.item_id.in_(enabled)).group_by(Answer.item_id)
        )
    }
    respondents = int(session.scalar(select(func.count(distinct(Answer.fan_id)))) or 0)
    return SurveyCoverage(
        respondents=respondents,
        asked_items=len(enabled),
        answers=sum(per_item.values()),
        thin_items=sum(1 for item_id in enabled if per_item.get(item_id, 0) < THIN_ITEM_ANSWERS),
    )
