"""Correlation table. References: pandas.DataFrame.corr() (pairwise-complete Pearson) for r,
scipy.stats.pearsonr on each pair's complete rows for p, explicit counts for n."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from segmentation.correlation import (
    PAIR_COLUMNS,
    band,
    bands,
    correlate,
    correlation_matrices,
    correlation_matrix,
    rank_frame,
)
from segmentation.synthetic import make_survey


def _mixed_frame(seed: int = 0, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n)
    frame = pd.DataFrame(
        {
            "yes_a": (z + rng.standard_normal(n) > 0).astype(float),
            "yes_b": (z + rng.standard_normal(n) > 0.5).astype(float),
            "count": np.floor(np.exp(1 + 0.5 * z + rng.standard_normal(n))),
            # Large offset, small spread: cancellation would show here without centring.
            "offset": 1e6 + z + 0.1 * rng.standard_normal(n),
            "noise": rng.standard_normal(n),
        }
    )
    return frame.mask(rng.random(frame.shape) < 0.5)


def test_r_matches_pandas_corr_with_missing_values() -> None:
    frame = _mixed_frame()
    ours = correlation_matrix(frame).frame()
    ref = frame.corr()
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), atol=1e-9, rtol=0)


def test_table_has_r_n_p_q_of_each_pair_from_independent_references() -> None:
    frame = _mixed_frame(seed=1)
    table = correlate(frame)
    assert list(table.columns) == list(PAIR_COLUMNS)
    assert len(table) == 10
    for row in table.itertuples(index=False):
        both = frame[[row.item_a, row.item_b]].dropna()
        assert row.n == len(both)
        ref = stats.pearsonr(both.iloc[:, 0], both.iloc[:, 1])
        assert row.r == pytest.approx(ref.statistic, abs=1e-9)
        assert row.p == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
    # BH by the explicit formula q_(i) = min_{j>=i} p_(j)·m/j.
    p = table["p"].to_numpy()
    order = np.argsort(p)
    m = len(p)
    q_sorted = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1)
    np.testing.assert_allclose(table["q"].to_numpy(), q, rtol=1e-12)


def test_pairs_with_fewer_than_three_joint_answers_are_left_out() -> None:
    frame = pd.DataFrame(
        {
            "a": [1, 0, 1, 0, np.nan, np.nan],
            "b": [1, 1, 0, 0, np.nan, np.nan],
            "c": [np.nan, np.nan, np.nan, 1, 0, 1],
        }
    )
    table = correlate(frame)
    assert list(zip(table["item_a"], table["item_b"], strict=True)) == [("a", "b")]
    assert table["n"].tolist() == [4]


def test_constant_column_within_pair_gives_empty_r_p_q_and_band_none() -> None:
    frame = pd.DataFrame(
        {
            "a": [1.0, 1.0, 1.0, 0.0, np.nan],
            "b": [1.0, 0.0, 1.0, np.nan, 1.0],
            "c": [2.5, 2.5, 2.5, 2.5, 2.5],
            "d": [0.1, 0.5, 0.2, 0.9, 0.3],
        }
    )
    table = correlate(frame).set_index(["item_a", "item_b"]).to_dict("index")
    # a is constant (1) on the rows where b is answered; c is constant everywhere.
    for pair in [("a", "b"), ("a", "c"), ("c", "d")]:
        row = table[pair]
        assert np.isnan(row["r"]) and np.isnan(row["p"]) and np.isnan(row["q"])
        assert row["band"] == "none"
    assert not np.isnan(table[("b", "d")]["r"])
    # pandas agrees that these are undefined.
    assert bool(frame.corr()["b"].isna()["a"])


def test_column_that_looks_binary_in_the_sample_but_is_not_is_still_exact() -> None:
    rng = np.random.default_rng(2)
    n = 60_000
    frame = pd.DataFrame({"a": (rng.random(n) < 0.4).astype(float), "b": rng.standard_normal(n)})
    frame.loc[frame.index[-1], "a"] = 3.0  # past the sample rows
    frame = frame.mask(rng.random(frame.shape) < 0.3)
    frame.loc[frame.index[-1], ["a", "b"]] = [3.0, 5.0]
    ours = correlation_matrix(frame).frame()
    np.testing.assert_allclose(ours.to_numpy(), frame.corr().to_numpy(), atol=1e-9, rtol=0)


@pytest.mark.parametrize(
    ("r", "expected"),
    [
        (0.8, "strong"),
        (-0.95, "strong"),
        (0.79, "moderate"),
        (-0.5, "moderate"),
        (0.3, "weak"),
        (0.29, "none"),
        (0.0, "none"),
        (float("nan"), "none"),
    ],
)
def test_bands_follow_the_source_material(r: float, expected: str) -> None:
    assert band(r) == expected
    assert bands([r])[0] == expected


def test_non_numeric_column_is_named() -> None:
    frame = pd.DataFrame({"a": [1.0, 0.0], "bad": ["x", "y"]})
    with pytest.raises(ValueError, match="'bad'"):
        correlate(frame)


def test_duplicated_column_is_named() -> None:
    frame = pd.DataFrame([[1.0, 0.0], [0.0, 1.0]], columns=["a", "a"])
    with pytest.raises(ValueError, match="'a'"):
        correlate(frame)


def test_planted_correlations_are_found() -> None:
    survey = make_survey(3000, 40, n_groups=4, group_size=5, loading=0.7, seed=3)
    table = correlate(survey.frame)
    truth = survey.structure.true_pairs(table)
    found = (table["q"] < 0.05).to_numpy()
    assert found[truth].mean() > 0.9
    assert (found & ~truth).sum() <= 0.05 * found.sum() + 1


def test_no_correlation_data_yields_few_discoveries() -> None:
    # Under the global null BH at 0.05 makes any discovery with probability <= 0.05, so
    # across 10 independent null data sets we expect about 0.5 data sets with discoveries.
    with_discoveries = 0
    for seed in range(10):
        survey = make_survey(800, 30, n_groups=0, group_size=0, seed=seed)
        table = correlate(survey.frame)
        with_discoveries += int((table["q"] < 0.05).any())
        # p-values are roughly uniform: about 5% fall below 0.05.
        assert (table["p"] < 0.05).mean() < 0.12
    assert with_discoveries <= 3


def test_interval_matches_scipy_fisher_interval_for_every_pair() -> None:
    frame = _mixed_frame(seed=4)
    table = correlate(frame)
    for row in table.itertuples(index=False):
        both = frame[[row.item_a, row.item_b]].dropna()
        ci = stats.pearsonr(both.iloc[:, 0], both.iloc[:, 1]).confidence_interval(0.95)
        assert row.ci_low == pytest.approx(ci.low, abs=1e-9)
        assert row.ci_high == pytest.approx(ci.high, abs=1e-9)


def test_interval_of_the_issue_example_crosses_a_band_boundary() -> None:
    from segmentation.correlation import fisher_interval

    low, high = fisher_interval(np.array([0.41]), np.array([536]))
    assert (round(float(low[0]), 2), round(float(high[0]), 2)) == (0.34, 0.48)


def test_exact_boundary_from_a_two_by_two_table_is_not_pushed_below_it() -> None:
    # 200 fans, every margin 100, a = d = 65: phi = (65² − 35²) / 100² = 0.3 exactly.
    cells = [(1, 1)] * 65 + [(1, 0)] * 35 + [(0, 1)] * 35 + [(0, 0)] * 65
    frame = pd.DataFrame(cells, columns=["a", "b"], dtype=float)
    table = correlate(frame)
    assert table["r"].iloc[0] == pytest.approx(0.3, abs=1e-12)
    assert table["band"].iloc[0] == "weak"
    assert band(0.3 - 1e-12) == "weak"
    assert band(0.3 - 1e-6) == "none"


def test_infinite_value_is_refused_naming_the_column() -> None:
    frame = pd.DataFrame({"a": [1.0, 0.0, 1.0, 0.0], "b": [1.0, np.inf, 0.0, 2.0]})
    with pytest.raises(ValueError, match="'b'"):
        correlate(frame)


def test_rank_coefficient_matches_scipy_spearman_on_complete_data() -> None:
    frame = _mixed_frame(seed=5).fillna(0.0)
    table = correlate(frame)
    spear = correlate(frame, method="spearman")
    for row, srow in zip(table.itertuples(index=False), spear.itertuples(index=False), strict=True):
        ref = stats.spearmanr(frame[row.item_a], frame[row.item_b])
        assert row.rank_r == pytest.approx(ref.statistic, abs=1e-9)
        assert srow.r == pytest.approx(ref.statistic, abs=1e-9)
        assert srow.p == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-300)


def test_one_extreme_count_answer_is_flagged_by_the_rank_coefficient() -> None:
    # The issue's case: one fan reports 100 live games a year; Pearson jumps, Spearman does not.
    rng = np.random.default_rng(2)
    n = 300
    games = rng.integers(0, 4, size=n).astype(float)
    sento = rng.integers(0, 5, size=n).astype(float)
    games[0], sento[0] = 100.0, 100.0
    frame = pd.DataFrame({"live_games": games, "sento_visits": sento})
    row = correlate(frame).iloc[0]
    ref = stats.spearmanr(games, sento).statistic
    assert row["r"] > 0.5
    assert row["rank_r"] == pytest.approx(ref, abs=1e-9)
    assert abs(row["rank_r"]) < 0.3
    assert bool(row["rank_band_differs"]) is True
    assert correlate(frame, method="spearman").iloc[0]["band"] == "none"


def _rank_edge_frame() -> pd.DataFrame:
    """The mixed frame plus the columns the shared Pearson/rank pass treats specially."""
    frame = _mixed_frame(seed=7, n=500)
    rng = np.random.default_rng(8)
    two = rng.choice([2.0, 7.0], size=len(frame))  # two values, not 0/1: ranks are linear in them
    frame["two_valued"] = np.where(rng.random(len(frame)) < 0.3, np.nan, two)
    frame["constant"] = np.where(rng.random(len(frame)) < 0.3, np.nan, 4.0)
    frame["nobody"] = np.nan
    frame["ties"] = np.where(
        rng.random(len(frame)) < 0.4, np.nan, rng.integers(0, 4, len(frame)).astype(float)
    )
    return frame


def test_rank_frame_equals_pandas_average_ranks() -> None:
    frame = _rank_edge_frame()
    pd.testing.assert_frame_equal(rank_frame(frame), frame.rank(method="average").astype(float))


def test_shared_pass_gives_the_pearson_matrix_and_the_matrix_of_pandas_ranks() -> None:
    frame = _rank_edge_frame()
    pearson, rank = correlation_matrices(frame)
    alone = correlation_matrix(frame)
    # pandas' own ranks as the reference, not ours.
    ranked = correlation_matrix(frame.rank(method="average"))
    assert pearson.items == rank.items == list(frame.columns)
    np.testing.assert_array_equal(pearson.n, alone.n)
    np.testing.assert_array_equal(rank.n, ranked.n)
    np.testing.assert_allclose(pearson.r, alone.r, atol=1e-12, rtol=0)
    np.testing.assert_allclose(rank.r, ranked.r, atol=1e-12, rtol=0)
    np.testing.assert_allclose(pearson.r, frame.corr().to_numpy(), atol=1e-9, rtol=0)
    np.testing.assert_allclose(rank.r, frame.rank().corr().to_numpy(), atol=1e-9, rtol=0)
