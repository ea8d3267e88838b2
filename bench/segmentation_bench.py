"""Benchmark of segmentation: correlate vs pandas.DataFrame.corr(), and lookalike vs oracle.

Run: ``.venv/bin/python -m bench.segmentation_bench [--quick]``.

Peak memory is measured with tracemalloc (numpy reports its buffers to it): the peak of
allocations made during the call, i.e. memory added beyond the input DataFrame.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from segmentation.correlation import correlate, correlation_matrix
from segmentation.lookalike import evaluate, fit
from segmentation.synthetic import make_survey


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    times = []
    result: Any = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak / 2**20, result


def _gemm_rate(n_rows: int, k: int) -> float:
    # Fortran order, as correlate's buffers: the reduction runs down contiguous columns.
    a = np.asfortranarray(np.random.default_rng(0).random((n_rows, 2 * k)))
    b = np.asfortranarray(np.random.default_rng(1).random((n_rows, 2 * k)))
    seconds, _, _ = _timed(lambda: np.dot(a.T, b), 3)
    return 2.0 * n_rows * (2 * k) ** 2 / seconds / 1e9


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    args = parser.parse_args(argv)
    if args.quick:
        cases, repeats, look_fans = [(2_000, 20), (5_000, 24)], 1, 3_000
    else:
        cases, repeats, look_fans = [(100_000, 200), (1_000_000, 50)], 3, 50_000

    print("correlate vs pandas.DataFrame.corr() (yes/no items, ~50% missing; median of", repeats, "runs)")
    header = (
        f"{'case':>14} {'pandas s':>9} {'ours s':>8} {'ratio':>6} "
        f"{'peak extra MB':>14} {'input MB':>9} {'max |dr|':>9}"
    )
    print(header)
    rates = []
    for n_rows, k in cases:
        frame = make_survey(n_rows, k, n_groups=4, group_size=5, seed=7).frame
        t_pd, _, ref = _timed(frame.corr, repeats)
        t_us, mem_us, _ = _timed(partial(correlate, frame), repeats)
        r = correlation_matrix(frame).r
        diff = float(np.nanmax(np.abs(r - ref.to_numpy())))
        input_mb = frame.memory_usage(index=True).sum() / 2**20
        print(
            f"{n_rows:>7,}x{k:<6} {t_pd:9.3f} {t_us:8.3f} {t_pd / t_us:6.1f} "
            f"{mem_us:14.1f} {input_mb:9.1f} {diff:9.1e}"
        )
        # ours does 6·k²·N flops of products (syrk counts k²N per k×k block).
        gflops = 2.0 * n_rows * (2 * k) ** 2 / 2 / 1e9
        rates.append((n_rows, k, _gemm_rate(n_rows, k), gflops / t_us))
        del frame, ref
    for n_rows, k, gemm, ours in rates:
        print(
            f"GEMM rate {n_rows:,}x{2 * k} float64 np.dot(AᵀB): {gemm:.1f} GFLOP/s; correlate end to end "
            f"achieves {ours:.1f} GFLOP/s of product work ({ours / gemm:.0%}; yes/no data: exact float32)"
        )

    print()
    print("lookalike: out-of-fold AUC vs oracle (true probabilities, same fans), realised FDR")
    print(
        f"{'target':>18} {'method':>12} {'AUC ours':>9} {'AUC oracle':>10} {'gap':>7} "
        f"{'FDR q<.05':>9} {'discoveries':>11}"
    )
    survey = make_survey(
        look_fans, 185, target="target_item", n_groups=8, group_size=6, count_share=0.07, seed=11
    )
    pairs = correlate(survey.frame)
    discovered = (pairs["q"] < 0.05).to_numpy()
    false = discovered & ~survey.structure.true_pairs(pairs)
    fdr = false.sum() / max(1, discovered.sum())
    # One data set's false discovery proportion is noisy; its mean over replicates estimates the FDR.
    replicate = []
    n_replicates = 3 if args.quick else 100
    for seed in range(20, 20 + n_replicates):
        other = make_survey(
            look_fans, 185, target="target_item", n_groups=8, group_size=6, count_share=0.07, seed=seed
        )
        rep_pairs = correlate(other.frame)
        found = (rep_pairs["q"] < 0.05).to_numpy()
        replicate.append((found & ~other.structure.true_pairs(rep_pairs)).sum() / max(1, found.sum()))
    assert survey.true_probability is not None
    for method in ("logistic", "correlation"):
        ev = evaluate(survey.frame, "target_item", method=method)
        y = survey.frame.loc[ev.predictions.index, "target_item"]
        oracle = float(roc_auc_score(y, survey.true_probability[ev.predictions.index]))
        print(
            f"{'target_item':>18} {method:>12} {ev.auc:9.4f} {oracle:10.4f} {oracle - ev.auc:7.4f} "
            f"{fdr:9.1%} {int(discovered.sum()):>11}"
        )
    # BH bounds the expected FDR by q·m0/m; that bound, not 5% exactly, is what the mean estimates.
    m = len(pairs)
    m0 = int((~survey.structure.true_pairs(pairs)).sum())
    mean, se = float(np.mean(replicate)), float(np.std(replicate, ddof=1) / np.sqrt(len(replicate)))
    print(
        f"mean realised FDR over {len(replicate)} replicate data sets of the same design: {mean:.2%} "
        f"± {se:.2%} (s.e.); Benjamini-Hochberg's bound q·m0/m = {0.05 * m0 / m:.2%}"
    )

    print()
    decoy_predictor_case(3 if args.quick else 40)


def _decoy_survey(seed: int, n: int = 1500, decoys: int = 100) -> tuple[pd.DataFrame, set[str]]:
    """A target planted on 5 items, plus decoys that correlate with each other, not with it."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal(n)
    factor = rng.standard_normal(n)
    data = {f"true_{j}": (0.8 * latent + rng.standard_normal(n) > 0).astype(float) for j in range(5)}
    for j in range(decoys):
        data[f"decoy_{j}"] = (factor + 0.7 * rng.standard_normal(n) > 0).astype(float)
    for j in range(20):
        data[f"noise_{j}"] = (rng.standard_normal(n) > 0).astype(float)
    data["target"] = (latent + rng.standard_normal(n) > 0).astype(float)
    frame = pd.DataFrame(data).mask(rng.random((n, len(data))) < 0.3)
    frame["target"] = data["target"]
    return frame, {f"true_{j}" for j in range(5)}


def _all_pairs_selection(frame: pd.DataFrame, target: str, alpha: float = 0.05) -> list[str]:
    # The old rule, kept here as the baseline: BH over every item pair, not the target's family.
    pairs = correlate(frame)
    mine = pairs[((pairs["item_a"] == target) | (pairs["item_b"] == target)) & (pairs["q"] < alpha)]
    return sorted((set(mine["item_a"]) | set(mine["item_b"])) - {target})


def decoy_predictor_case(replicates: int) -> None:
    """Realised share of false predictors with decoys, target family vs all-pairs BH."""
    print(f"lookalike predictor selection with 100 inter-correlated decoys ({replicates} replicates)")
    print(f"{'selection':>34} {'false share':>12} {'± s.e.':>8} {'true found':>11}")
    shares: dict[str, list[float]] = {"target's own family (ours)": [], "all item pairs (baseline)": []}
    found: dict[str, list[float]] = {name: [] for name in shares}
    for seed in range(replicates):
        frame, truth = _decoy_survey(100 + seed)
        chosen = {
            "target's own family (ours)": fit(frame, "target").predictors,
            "all item pairs (baseline)": _all_pairs_selection(frame, "target"),
        }
        for name, predictors in chosen.items():
            false = [p for p in predictors if p not in truth]
            shares[name].append(len(false) / max(1, len(predictors)))
            found[name].append(len(truth & set(predictors)) / len(truth))
    for name, values in shares.items():
        se = float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")
        print(f"{name:>34} {np.mean(values):12.1%} {se:8.1%} {np.mean(found[name]):11.0%}")


if __name__ == "__main__":
    main()
