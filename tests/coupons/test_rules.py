"""Target rules are checked against the catalog, with Japanese messages naming the fault."""

from __future__ import annotations

import re

import pytest

from coupons.rules import RuleError, parse_rule
from data.catalog import Catalog


def test_rule_from_the_source_finding_parses(catalog: Catalog) -> None:
    rule = parse_rule(
        {
            "all": [
                {"item": "likes_super_sento", "op": "=", "value": 1},
                {"item": "live_games_per_year", "op": ">=", "value": 3},
            ],
            "lookalike": {"item": "likes_super_sento", "min_score": 0.6},
        },
        catalog,
    )
    assert [c.item for c in rule.conditions] == ["likes_super_sento", "live_games_per_year"]
    assert rule.lookalike is not None and rule.lookalike.min_score == 0.6
    assert parse_rule(rule.as_json(), catalog) == rule


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"all": [{"item": "no_such_item", "op": "=", "value": 1}]},
            "「no_such_item」はアンケートの項目にありません",
        ),
        (
            {"all": [{"item": "likes_super_sento", "op": "=", "value": 2}]},
            "ありえません（回答は はい(1)/いいえ(0)）",
        ),
        (
            {"all": [{"item": "live_games_per_year", "op": ">", "value": 365}]},
            "ありえません（回答は 0〜365）",
        ),
        ({"all": [{"item": "live_games_per_year", "op": "<", "value": 0}]}, "ありえません"),
        ({"all": [{"item": "likes_super_sento", "op": "~", "value": 1}]}, "比べ方「~」は使えません"),
        ({"all": [{"item": "likes_super_sento", "op": "=", "value": "はい"}]}, "数値ではありません"),
        (
            {"all": [], "lookalike": {"item": "live_games_per_year", "min_score": 0.5}},
            "「はい/いいえ」の項目ではない",
        ),
        ({"all": [], "lookalike": {"item": "likes_super_sento", "min_score": 1.5}}, "0〜1 の範囲外"),
        ("likes_super_sento=1", "形式が正しくありません"),
    ],
)
def test_impossible_or_unknown_rules_are_refused_naming_the_fault(
    catalog: Catalog, rule: object, message: str
) -> None:
    with pytest.raises(RuleError, match=re.escape(message)):
        parse_rule(rule, catalog)
