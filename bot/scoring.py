"""The scoring run: every fan's lookalike score for one yes/no item, stored with its reasons.

It joins the three layers, so it lives in ``bot``: the answers come from ``data``, the model
from ``segmentation.lookalike`` (fitted on the stored answers; its cross-validated AUC is the
run's quality figure), and the scores go to ``coupons.scores`` as plain data. The CLI
(``fanbot segments score ITEM``) and the admin pages call :func:`run_scoring`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from coupons.scores import FanScore, store_scores
from data.answer_frame import answers_frame
from data.catalog import Catalog
from segmentation.lookalike import LookalikeError, evaluate, fit

__all__ = ["REASONS_KEPT", "ScoringRun", "run_scoring"]

# How many items behind each score are kept: what a marketer reads in "why this fan".
REASONS_KEPT = 3


@dataclass(frozen=True)
class ScoringRun:
    item_id: str
    scored: int
    unanswered: int
    predictors: int
    auc: float | None
    run_at: datetime


def run_scoring(
    session: Session, catalog: Catalog, item_id: str, consent_version: str, now: datetime
) -> ScoringRun:
    """Fit the lookalike model for ``item_id`` on the stored answers and store every fan's score.

    Raises
    ------
    LookalikeError
        (Japanese message) when the item is unknown, not yes/no, or lacks both kinds of answer.
    """
    item = catalog.get(item_id)
    if item is None:
        raise LookalikeError(f"「{item_id}」はアンケートの項目にありません。")
    if not item.is_yes_no:
        raise LookalikeError(
            f"「{item.text_ja}」は「はい/いいえ」の項目ではないため、スコアを計算できません。"
        )
    frame = answers_frame(session, catalog, consent_version)
    if item_id not in frame.columns:
        raise LookalikeError(
            f"「{item.text_ja}」にはまだ回答がありません。回答が集まってから実行してください。"
        )
    model = fit(frame, item_id)
    try:
        quality = evaluate(frame, item_id)
        auc: float | None = quality.auc if quality.can_rank and not math.isnan(quality.auc) else None
    except LookalikeError:
        auc = None  # too few answers to cross-validate: scores are stored, without a quality figure
    probabilities = model.predict(frame).to_numpy()
    values = frame[model.predictors].to_numpy(dtype=np.float64, na_value=np.nan)
    answered = ~np.isnan(values)
    z = np.where(answered, (values - model.means.to_numpy()) / model.scales.to_numpy(), 0.0)
    contributions = z * model.coef_value.to_numpy() + answered * model.coef_answered.to_numpy()
    labels = catalog.labels
    scores: dict[int, FanScore] = {}
    for row, fan_id in enumerate(frame.index.tolist()):
        scores[int(fan_id)] = FanScore(
            float(probabilities[row]),
            _reasons(model.predictors, contributions[row], values[row], answered[row], labels),
        )
    store_scores(session, item_id, scores, run_at=now, auc=auc)
    return ScoringRun(
        item_id=item_id,
        scored=len(scores),
        unanswered=int(frame[item_id].isna().sum()),
        predictors=len(model.predictors),
        auc=auc,
        run_at=now,
    )


def _reasons(
    predictors: list[str],
    contributions: np.ndarray[Any, np.dtype[np.float64]],
    answers: np.ndarray[Any, np.dtype[np.float64]],
    answered: np.ndarray[Any, np.dtype[np.bool_]],
    labels: dict[str, str],
) -> list[dict[str, Any]]:
    order = np.argsort(-np.abs(contributions), kind="stable")
    kept: list[dict[str, Any]] = []
    for position in order.tolist():
        if not answered[position]:
            continue
        kept.append(
            {
                "item": predictors[position],
                "text_ja": labels.get(predictors[position], predictors[position]),
                "answer": float(answers[position]),
                "contribution": round(float(contributions[position]), 4),
            }
        )
        if len(kept) == REASONS_KEPT:
            break
    return kept
