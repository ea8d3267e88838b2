"""Stored lookalike scores: the output of a scoring run, kept per fan and item.

Public function: :func:`store_scores`. ``coupons`` takes the scores as plain data: the run
that computes them (segmentation's lookalike model on the stored answers) lives in the
command layer, so this package never imports ``segmentation``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from coupons.models import LookalikeScore

__all__ = ["FanScore", "store_scores"]


@dataclass(frozen=True)
class FanScore:
    """One fan's probability of a yes to the item, with the items behind it (largest first)."""

    score: float
    reasons: Sequence[Mapping[str, Any]] = ()


def store_scores(
    session: Session, item_id: str, scores: Mapping[int, FanScore], *, run_at: datetime, auc: float | None
) -> int:
    """Replace the stored scores for ``item_id`` with this run's; return how many were stored."""
    for fan_id, fan_score in scores.items():
        if not 0.0 <= fan_score.score <= 1.0:
            raise ValueError(f"score of fan {fan_id} for {item_id!r} is {fan_score.score}, not a probability")
    session.execute(delete(LookalikeScore).where(LookalikeScore.item_id == item_id))
    session.add_all(
        LookalikeScore(
            item_id=item_id,
            fan_id=fan_id,
            score=float(fan_score.score),
            reasons=[dict(reason) for reason in fan_score.reasons],
            run_at=run_at,
            auc=auc,
        )
        for fan_id, fan_score in scores.items()
    )
    session.flush()
    return len(scores)
