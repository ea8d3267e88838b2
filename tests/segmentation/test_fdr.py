"""BH q-values against the explicit step-up formula (computed by hand below)."""

from __future__ import annotations

import numpy as np

from segmentation.fdr import bh_qvalues


def test_hand_computed_example() -> None:
    # p sorted: .01 .02 .03 .04 .5 ; m = 5 ; p·m/rank = .05 .05 .05 .05 .5 ; cumulative min from the top.
    p = np.array([0.04, 0.01, 0.5, 0.03, 0.02])
    np.testing.assert_allclose(bh_qvalues(p), [0.05, 0.05, 0.5, 0.05, 0.05])


def test_nan_p_values_are_skipped_and_do_not_count_as_tests() -> None:
    q = bh_qvalues([0.01, np.nan, 0.04])
    # m = 2: .01·2/1 = .02, .04·2/2 = .04
    np.testing.assert_allclose(q, [0.02, np.nan, 0.04])


def test_all_nan_stays_nan() -> None:
    assert np.isnan(bh_qvalues([np.nan, np.nan])).all()
