from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from segmentation.lookalike import evaluate, explain, fit, lift_at, score
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
    with pytest.raises(ValueError, match="'nope'"):
        fit(survey.frame, "nope")
