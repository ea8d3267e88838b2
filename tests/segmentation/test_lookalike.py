from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from segmentation.correlation import target_correlations
from segmentation.lookalike import LookalikeError, evaluate, explain, fit, lift_at, score
from segmentation.synthetic import make_survey


@pytest.fixture(scope="module")
def survey():
    return make_survey(4000, 40, target="target", n_groups=4, group_size=5, seed=8)


def test_score_recovers_planted_structure(survey) -> None:  # type: ignore[no-untyped-def]
    result = evaluate(survey.frame, "target", folds=5)
    y = survey.frame.loc[result.predictions.index, "target"]
    oracle = roc_auc_score(y, survey.true_probability[result.predictions.index])
    assert result.auc > 0.65
    assert oracle - result.auc < 0.05
    assert result.lift_at_20 > 1.3
    assert len(result.fold_aucs) == 5


def test_score_covers_fans_who_did_not_answer_target(survey) -> None:  # type: ignore[no-untyped-def]
    scores = score(survey.frame, "target")
    assert scores.index.equals(survey.frame.index[survey.frame["target"].isna()])
    assert ((scores > 0) & (scores < 1)).all()


def test_contributions_add_up_to_the_log_odds(survey) -> None:  # type: ignore[no-untyped-def]
    model = fit(survey.frame, "target")
    assert set(model.predictors) >= set(survey.structure.target_weights)
    fan = survey.frame.index[0]
    parts = model.contributions(survey.frame.loc[fan])
    total = model.intercept + parts["contribution"].sum()
    assert total == pytest.approx(model.log_odds(survey.frame.loc[[fan]]).iloc[0])
    top = explain(model, "target", fan, frame=survey.frame, top=3)
    assert len(top) <= 3
    assert list(top.columns) == ["item", "text_ja", "answer", "contribution"]


def test_lift_by_hand() -> None:
    # 10 fans, top 20% = 2 highest scores, both yes; base rate 0.4 -> lift 1/0.4 = 2.5.
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 1, 0], dtype=float)
    s = np.array([0.9, 0.8, 0.1, 0.2, 0.3, 0.1, 0.0, 0.2, 0.4, 0.1])
    assert lift_at(y, s) == pytest.approx(2.5)


def test_bad_target_is_named(survey) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LookalikeError, match="「nope」は回答データにありません"):
        fit(survey.frame, "nope")


def test_count_target_is_refused_in_japanese_saying_what_to_do() -> None:
    frame = pd.DataFrame({"visits": [0, 3, 12, 1, 0, 5], "x": [1, 0, 1, 0, 1, 0]}, dtype=float)
    with pytest.raises(LookalikeError, match="はい/いいえの項目を選んでください"):
        fit(frame, "visits")


def test_too_few_positives_are_refused_in_japanese_with_the_counts() -> None:
    frame = pd.DataFrame({"t": [1, 1, 0, 0, 0, 0, 0, 0, 0, 0], "x": [1, 0] * 5}, dtype=float)
    with pytest.raises(LookalikeError, match="はい 2 件、いいえ 8 件"):
        evaluate(frame, "t")


def test_tied_scores_give_the_expected_lift_whatever_the_row_order() -> None:
    # Every score equal: the top 20 % cannot be chosen, so the lift is exactly 1,
    # even when the file happens to list every "yes" first (a stable sort would say 2.5).
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], dtype=float)
    flat = np.zeros(10)
    assert lift_at(y, flat) == pytest.approx(1.0)
    # A tie straddling the cut counts in proportion: top 2 of 10 = the 0.9 fan (yes) and
    # half of the tied 0.5 pair (one yes, one no): (1 + 0.5) / 2 / 0.4 = 1.875.
    scores = np.array([0.9, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    y2 = np.array([1, 1, 0, 1, 0, 0, 0, 1, 0, 0], dtype=float)
    assert lift_at(y2, scores) == pytest.approx(1.875)
    # Reference: the mean over every tie-breaking order of the plain top-2 lift.
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(4000):
        jitter = scores + rng.random(10) * 1e-6
        top = np.argsort(-jitter)[:2]
        draws.append(y2[top].mean() / y2.mean())
    assert float(np.mean(draws)) == pytest.approx(1.875, abs=0.03)


def test_noise_sorted_by_target_cannot_rank_and_says_so() -> None:
    rng = np.random.default_rng(5)
    n = 400
    frame = pd.DataFrame(rng.integers(0, 2, size=(n, 6)).astype(float), columns=[f"i{j}" for j in range(6)])
    frame["t"] = rng.integers(0, 2, size=n).astype(float)
    frame = frame.sort_values("t", ascending=False).reset_index(drop=True)
    result = evaluate(frame, "t")
    assert result.mean_predictors == 0
    assert result.can_rank is False
    # Fold intercepts differ a hair, so the scores are not all equal, but the file's
    # order (every yes first) must not turn into a lift near 2 as a stable sort gave.
    assert result.lift_at_20 < 1.2


def test_predictors_are_selected_within_the_targets_own_family() -> None:
    # Planted: t depends on p1..p3. 100 decoys correlate strongly with each other (a shared
    # factor) but not with t. BH over all pairs would be loosened by ~5,000 decoy discoveries;
    # over t's own family it must keep the false share near zero.
    rng = np.random.default_rng(11)
    n = 600
    latent = rng.standard_normal(n)
    data = {f"p{j}": (latent + rng.standard_normal(n) > 0).astype(float) for j in range(3)}
    factor = rng.standard_normal(n)
    for j in range(100):
        data[f"d{j}"] = (factor + 0.7 * rng.standard_normal(n) > 0).astype(float)
    data["t"] = (latent + rng.standard_normal(n) > 0).astype(float)
    frame = pd.DataFrame(data)
    family = target_correlations(frame, "t")
    assert len(family) == 103
    # q is BH over exactly these 103 p-values (scipy's implementation as the reference).
    np.testing.assert_allclose(family["q"], stats.false_discovery_control(family["p"]), rtol=1e-12)
    model = fit(frame, "t")
    assert {"p0", "p1", "p2"} <= set(model.predictors)
    family_q = dict(zip(family["item"], family["q"].astype(float), strict=True))
    assert all(p.startswith("p") or family_q[p] < 0.05 for p in model.predictors)
