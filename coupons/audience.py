"""Who a campaign reaches at a given moment, split into targeted and holdout fans.

Public functions: :func:`eligible_fans`, :func:`holdout_group`, :func:`record_audience`,
:func:`preview_audience`.

Eligibility is the one reachability rule (`data.consent.reachable_clause`: current consent,
following, not opted out, not deleted) plus the campaign's target rule
(`coupons.rules`). The split is a hash of campaign and fan, so it is stable across runs and
reproducible from the ids alone; the group a fan first fell into is recorded and never
changes, which is what uplift (targeted vs holdout) is measured on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.orm import Session

from coupons.models import AudienceMember, Campaign, LookalikeScore
from coupons.rules import COMPARE, Condition, TargetRule
from data.consent import reachable_clause
from data.database import insert_new
from data.models import Answer, Fan

__all__ = [
    "AudiencePreview",
    "Eligible",
    "PreviewFan",
    "eligible_fans",
    "holdout_group",
    "preview_audience",
    "record_audience",
]


@dataclass(frozen=True)
class Eligible:
    fan_id: int
    matched_by: str  # "rule": answered as the rule says; "lookalike": predicted by the score
    group: str  # "targeted" or "holdout"


def holdout_group(campaign_id: int, fan_id: int, share: float) -> str:
    """``"holdout"`` for a stable pseudo-random ``share`` of fans of a campaign, else ``"targeted"``."""
    digest = hashlib.sha256(f"fanbot-holdout:{campaign_id}:{fan_id}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return "holdout" if position < share else "targeted"


def _answer_meets(condition: Condition) -> ColumnElement[bool]:
    compare: ColumnElement[bool] = COMPARE[condition.op](Answer.value, condition.value)
    return exists().where(Answer.fan_id == Fan.id, Answer.item_id == condition.item, compare)


def _direct(rule: TargetRule) -> ColumnElement[bool]:
    return and_(*[_answer_meets(c) for c in rule.conditions]) if rule.conditions else and_(True)


def _by_lookalike(rule: TargetRule) -> ColumnElement[bool]:
    """Fans who never answered the lookalike item but whose score for it is high enough.

    The score stands in for the rule's conditions on that item; the other conditions
    must still hold.
    """
    part = rule.lookalike
    if part is None:
        return false()
    others = [_answer_meets(c) for c in rule.conditions if c.item != part.item]
    unanswered = ~exists().where(Answer.fan_id == Fan.id, Answer.item_id == part.item)
    scored = exists().where(
        LookalikeScore.fan_id == Fan.id,
        LookalikeScore.item_id == part.item,
        LookalikeScore.score >= part.min_score,
    )
    return and_(unanswered, scored, *others)


def eligible_fans(
    session: Session, campaign: Campaign, rule: TargetRule, consent_version: str
) -> list[Eligible]:
    """Every fan the campaign may reach now, with how they matched and their group, by fan id."""
    direct = _direct(rule)
    query = (
        select(Fan.id, direct)
        .where(reachable_clause(consent_version), or_(direct, _by_lookalike(rule)))
        .order_by(Fan.id)
    )
    return [
        Eligible(
            fan_id,
            "rule" if matched_directly else "lookalike",
            holdout_group(campaign.id, fan_id, campaign.holdout_share),
        )
        for fan_id, matched_directly in session.execute(query)
    ]


def record_audience(
    session: Session, campaign: Campaign, fans: list[Eligible], now: datetime
) -> list[Eligible]:
    """Record each fan's group the first time they are eligible; return fans with their recorded group.

    A fan already recorded keeps the group of the first recording. Two runs racing on one
    campaign both succeed: the insert skips rows the other run wrote (the unique constraint),
    and the groups are read back as stored.
    """
    insert_new(
        session,
        AudienceMember.__table__,
        [
            {
                "campaign_id": campaign.id,
                "fan_id": e.fan_id,
                "group": e.group,
                "matched_by": e.matched_by,
                "recorded_at": now,
            }
            for e in fans
        ],
        keys=("campaign_id", "fan_id"),
    )
    rows = session.execute(
        select(AudienceMember.fan_id, AudienceMember.group).where(AudienceMember.campaign_id == campaign.id)
    )
    recorded = {fan_id: group for fan_id, group in rows}
    return [Eligible(e.fan_id, e.matched_by, recorded.get(e.fan_id, e.group)) for e in fans]


@dataclass(frozen=True)
class PreviewFan:
    """One matched fan as the preview shows them: how they matched and why."""

    fan_id: int
    matched_by: str
    group: str
    # For "rule": the fan's answers to the rule's items; for "lookalike": the score's top reasons.
    reasons: list[dict[str, Any]]
    score: float | None = None


@dataclass(frozen=True)
class AudiencePreview:
    direct: int
    lookalike: int
    holdout: int
    targeted: int
    sample: list[PreviewFan]
    scores_run_at: datetime | None = None
    scores_auc: float | None = None


def preview_audience(
    session: Session, campaign: Campaign, rule: TargetRule, consent_version: str, sample_size: int = 10
) -> AudiencePreview:
    """Who the campaign would reach now, without recording anything: counts and a sample with reasons."""
    fans = eligible_fans(session, campaign, rule, consent_version)
    targeted = [e for e in fans if e.group == "targeted"]
    # A spread-out sample (every k-th fan), so it is not just the oldest fans.
    step = max(1, len(fans) // sample_size) if fans else 1
    chosen = fans[::step][:sample_size]
    items = [c.item for c in rule.conditions]
    answers: dict[int, dict[str, float]] = {}
    if chosen and items:
        rows = session.execute(
            select(Answer.fan_id, Answer.item_id, Answer.value).where(
                Answer.fan_id.in_([e.fan_id for e in chosen]), Answer.item_id.in_(items)
            )
        )
        for fan_id, item_id, value in rows:
            answers.setdefault(fan_id, {})[item_id] = value
    scores: dict[int, LookalikeScore] = {}
    run_at: datetime | None = None
    auc: float | None = None
    if rule.lookalike is not None:
        stored = session.scalars(
            select(LookalikeScore).where(
                LookalikeScore.item_id == rule.lookalike.item,
                LookalikeScore.fan_id.in_([e.fan_id for e in chosen]),
            )
        )
        scores = {s.fan_id: s for s in stored}
        latest = session.execute(
            select(LookalikeScore.run_at, LookalikeScore.auc)
            .where(LookalikeScore.item_id == rule.lookalike.item)
            .limit(1)
        ).first()
        if latest is not None:
            run_at, auc = latest
    sample = []
    for e in chosen:
        score = scores.get(e.fan_id)
        if e.matched_by == "lookalike" and score is not None:
            reasons = [dict(r) for r in score.reasons]
        else:
            reasons = [{"item": item, "answer": answers.get(e.fan_id, {}).get(item)} for item in items]
        sample.append(PreviewFan(e.fan_id, e.matched_by, e.group, reasons, score.score if score else None))
    return AudiencePreview(
        direct=sum(1 for e in fans if e.matched_by == "rule"),
        lookalike=sum(1 for e in fans if e.matched_by == "lookalike"),
        holdout=len(fans) - len(targeted),
        targeted=len(targeted),
        sample=sample,
        scores_run_at=run_at,
        scores_auc=auc,
    )
