from __future__ import annotations

import numpy as np

from segmentation.synthetic import make_survey


def test_same_seed_same_data_and_missing_rate_near_request() -> None:
    a = make_survey(1000, 30, missing=0.5, seed=5)
    b = make_survey(1000, 30, missing=0.5, seed=5)
    assert a.frame.equals(b.frame)
    assert 0.4 < a.frame.isna().to_numpy().mean() < 0.6


def test_target_structure_and_probabilities() -> None:
    survey = make_survey(2000, 30, target="t", seed=6)
    assert survey.true_probability is not None
    assert set(survey.frame["t"].dropna().unique()) <= {0.0, 1.0}
    assert len(survey.structure.target_weights) == 5
    predictor = next(iter(survey.structure.target_weights))
    assert survey.structure.is_true_pair("t", predictor)
    noise = next(i for i, g in survey.structure.groups.items() if g == -1)
    assert not survey.structure.is_true_pair("t", noise)
    assert np.all((survey.true_probability > 0) & (survey.true_probability < 1))
