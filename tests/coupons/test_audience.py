"""Audience: the one reachability rule, the target rule, and fans reached by their lookalike score."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from coupons.audience import eligible_fans
from coupons.models import Campaign
from coupons.rules import parse_rule
from coupons.scores import FanScore, store_scores
from data.catalog import Catalog
from data.models import Fan
from tests.coupons.conftest import NOW, VERSION

RULE = {
    "all": [
        {"item": "likes_super_sento", "op": "=", "value": 1},
        {"item": "live_games_per_year", "op": ">=", "value": 3},
    ],
    "lookalike": {"item": "likes_super_sento", "min_score": 0.6},
}


def test_fans_match_by_answers_or_by_a_high_score_for_the_item_they_never_answered(
    db_session: Session,
    catalog: Catalog,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    campaign = make_campaign(target_rule=RULE)
    direct = make_fan({"likes_super_sento": 1, "live_games_per_year": 5})
    make_fan({"likes_super_sento": 1, "live_games_per_year": 1})
    predicted = make_fan({"live_games_per_year": 4})
    predicted_low = make_fan({"live_games_per_year": 4})
    said_no = make_fan({"likes_super_sento": 0, "live_games_per_year": 8})
    predicted_but_few_games = make_fan({"live_games_per_year": 0})
    make_fan({"likes_super_sento": 1, "live_games_per_year": 5}, consent_version="2025-01")
    make_fan({"likes_super_sento": 1, "live_games_per_year": 5}, is_following=False)
    store_scores(
        db_session,
        "likes_super_sento",
        {
            predicted.id: FanScore(0.81, [{"item": "live_games_per_year", "contribution": 0.9}]),
            predicted_low.id: FanScore(0.40),
            said_no.id: FanScore(0.95),  # answered "no" themselves: a score never overrides an answer
            predicted_but_few_games.id: FanScore(0.9),
        },
        run_at=NOW,
        auc=0.74,
    )
    db_session.commit()
    found = eligible_fans(db_session, campaign, parse_rule(RULE, catalog), VERSION)
    # Not too_few_games, predicted_low, said_no, predicted_but_few_games, old_consent, unfollowed.
    assert [(e.fan_id, e.matched_by) for e in found] == [(direct.id, "rule"), (predicted.id, "lookalike")]


def test_a_new_consent_text_takes_fans_out_of_every_audience_until_they_agree_again(
    db_session: Session,
    catalog: Catalog,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    campaign = make_campaign()
    fan = make_fan({"likes_super_sento": 1})
    rule = parse_rule(campaign.target_rule, catalog)
    assert [e.fan_id for e in eligible_fans(db_session, campaign, rule, VERSION)] == [fan.id]
    assert eligible_fans(db_session, campaign, rule, "2027-04") == []
