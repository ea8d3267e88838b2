"""Uplift figures pinned to references: statsmodels' Newcombe interval and Newcombe's own table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from coupons.uplift import newcombe_interval, uplift, uplift_sentence, wilson_interval


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"),
    [
        (62, 500, 35, 500),
        (56, 70, 48, 80),
        (9, 10, 3, 10),
        (0, 40, 0, 38),
        (5, 12, 0, 9),
        (10, 10, 4, 30),
        (1, 3, 2, 3),
    ],
)
def test_interval_matches_statsmodels_newcombe(x1: int, n1: int, x2: int, n2: int) -> None:
    # Reference: statsmodels.stats.proportion.confint_proportions_2indep(method="newcomb", compare="diff").
    low, high = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff")
    assert newcombe_interval(x1, n1, x2, n2) == pytest.approx((low, high), abs=1e-9)


@pytest.mark.parametrize(("x", "n"), [(0, 10), (3, 10), (10, 10), (124, 1000), (1, 1)])
def test_wilson_matches_statsmodels(x: int, n: int) -> None:
    assert wilson_interval(x, n) == pytest.approx(proportion_confint(x, n, method="wilson"), abs=1e-9)


def test_interval_reproduces_newcombes_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, example (a) 56/70 - 48/80, method 10.
    low, high = newcombe_interval(56, 70, 48, 80)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def test_planted_effect_is_recovered_and_shown() -> None:
    # Planted: targeted fans visit with probability 0.15, the holdout with 0.07 (true difference +8 points).
    rng = np.random.default_rng(2026)
    targeted = rng.random(2000) < 0.15
    holdout = rng.random(500) < 0.07
    result = uplift(int(targeted.sum()), 2000, int(holdout.sum()), 500)
    reference = confint_proportions_2indep(
        int(targeted.sum()), 2000, int(holdout.sum()), 500, method="newcomb", compare="diff"
    )
    assert result.interval == pytest.approx(reference, abs=1e-9)
    assert result.difference == pytest.approx(targeted.mean() - holdout.mean())
    assert result.interval[0] < 0.08 < result.interval[1]
    assert result.shown


def test_sentence_states_rates_difference_and_interval() -> None:
    result = uplift(124, 1000, 71, 1000)
    low, high = result.interval
    assert uplift_sentence(result) == (
        "クーポンを受け取ったファンの来店率は 12.4%、受け取らなかったファンは 7.1%："
        f"差は +5.3 ポイント（95%信頼区間 {low * 100:+.1f}〜{high * 100:+.1f}）"
    )
    assert result.shown


def test_sentence_says_not_yet_shown_when_the_interval_covers_zero() -> None:
    result = uplift(6, 50, 4, 50)
    assert not result.shown
    assert uplift_sentence(result).endswith(
        "区間が 0 をまたいでいるため、クーポンの効果はまだ示されていません。"
    )


def test_no_holdout_yet_is_said_plainly() -> None:
    result = uplift(10, 100, 0, 0)
    assert math.isnan(result.interval[0])
    assert not result.shown
    assert "まだ計算できません" in uplift_sentence(result)


def test_impossible_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="targeted"):
        uplift(11, 10, 0, 5)
    with pytest.raises(ValueError, match="holdout"):
        uplift(1, 10, -1, 5)
