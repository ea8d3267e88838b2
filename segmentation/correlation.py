"""Pairwise-complete Pearson correlation table: r, n, p, q and the source material's bands.

Fans answer different subsets of items, so every pair of items has its own set of
respondents (the rows where both are answered). The kernel gets all pairs at once from
matrix products on the answer mask ``M`` (1 = answered) and the zero-filled values ``X``:

* ``n   = Mᵀ M``           respondents per pair
* ``Sx  = Xᵀ M``           sum of item a over the rows where b is answered too
* ``Sxx = (X²)ᵀ M``        the same for squares
* ``Sxy = Xᵀ X``           cross products (zero-filling drops rows where either is missing)

``[M | X]ᵀ [M | X]`` yields the first, second and fourth in one symmetric product, which
BLAS does far faster than a loop over pairs. Accuracy comes from two observations:

* yes/no columns (values 0/1) are kept uncentred: then every sum is an integer well below
  2⁵³, so ``n·Sxy − Sx·Sy`` is computed exactly, and ``x² = x`` makes ``Sxx = Sx`` free;
* other columns are shifted by (an estimate of) their mean before the products, which
  removes most of the cancellation in ``n·Sxx − Sx²``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import betainc
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from segmentation.fdr import bh_qvalues

__all__ = [
    "BANDS",
    "PAIR_COLUMNS",
    "Band",
    "CorrelationMatrix",
    "band",
    "bands",
    "correlate",
    "correlation_matrices",
    "correlation_matrix",
    "pairs_table",
    "rank_frame",
    "target_correlations",
]

PAIR_COLUMNS = (
    "item_a",
    "item_b",
    "r",
    "n",
    "p",
    "q",
    "band",
    "ci_low",
    "ci_high",
    "rank_r",
    "rank_band_differs",
)
TARGET_COLUMNS = ("item", "r", "n", "p", "q")
MIN_PAIR_N = 3
# Two-sided 95 % normal quantile for the Fisher-z interval.
_Z95 = 1.959963984540054
# Coefficients computed from counts can land a few ulps below an exact band boundary (a 2×2 table
# whose true r is 0.3 gives 0.29999999999999977); bands and displayed values forgive that much.
BAND_TOLERANCE = 1e-9
Method = Literal["pearson", "spearman"]

FloatArray = npt.NDArray[np.float64]

# Elements (rows × 2·items) in the per-chunk product buffer: 16 MB of float64, large enough
# for BLAS to run at full speed, small enough to stay in cache and keep extra memory flat.
_CHUNK_ELEMENTS = 1 << 21
# Rows sampled to decide which columns are 0/1 and to estimate the centring shift.
_SAMPLE_ROWS = 20_000


@dataclass(frozen=True)
class Band:
    """A strength band for |r| as the source material read it."""

    name: str
    lower: float
    label_ja: str
    range_ja: str


# Ordered strongest first; a coefficient belongs to the first band whose lower bound it reaches.
BANDS: tuple[Band, ...] = (
    Band("strong", 0.8, "強い相関", "0.8 以上"),
    Band("moderate", 0.5, "相関あり", "0.5 以上 0.8 未満"),
    Band("weak", 0.3, "弱い相関", "0.3 以上 0.5 未満"),
    Band("none", 0.0, "ほぼ相関なし", "0.3 未満"),
)


def band(r: float) -> str:
    """Name of the strength band of a correlation coefficient.

    Parameters
    ----------
    r : float
        Correlation coefficient; only its absolute value matters (the sign stays in r).

    Returns
    -------
    str
        ``"strong"`` for \\|r\\| ≥ 0.8, ``"moderate"`` for 0.5 ≤ \\|r\\| < 0.8, ``"weak"``
        for 0.3 ≤ \\|r\\| < 0.5, else ``"none"`` (also for NaN).
    """
    if math.isnan(r):
        return "none"
    magnitude = abs(r)
    for b in BANDS:
        if magnitude >= b.lower - BAND_TOLERANCE:
            return b.name
    return "none"


def bands(r: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Vectorised :func:`band` (NaN gives ``"none"``)."""
    magnitude = np.abs(np.asarray(r, dtype=np.float64))
    out = np.full(magnitude.shape, "none", dtype=object)
    # Assign weakest first so stronger bands overwrite; NaN compares False everywhere.
    for b in reversed(BANDS[:-1]):
        out[magnitude >= b.lower - BAND_TOLERANCE] = b.name
    return out


def fisher_interval(
    r: npt.ArrayLike, n: npt.ArrayLike, *, rank: bool = False
) -> tuple[FloatArray, FloatArray]:
    """95 % confidence interval of a correlation coefficient by Fisher's z transform.

    ``tanh(atanh(r) ± 1.96·se)`` with ``se = 1/√(n−3)`` for Pearson r, or ``√(1.06/(n−3))``
    for a rank coefficient (Fieller, Hartley and Pearson, 1957). NaN where r is NaN or n ≤ 3;
    |r| = 1 gives the degenerate interval [r, r].
    """
    rr = np.asarray(r, dtype=np.float64)
    nn = np.asarray(n, dtype=np.float64)
    low = np.full(rr.shape, np.nan)
    high = np.full(rr.shape, np.nan)
    ok = ~np.isnan(rr) & (nn > 3)
    se = np.sqrt((1.06 if rank else 1.0) / (nn[ok] - 3))
    with np.errstate(divide="ignore"):
        z = np.arctanh(np.clip(rr[ok], -1.0, 1.0))
    low[ok] = np.tanh(z - _Z95 * se)
    high[ok] = np.tanh(z + _Z95 * se)
    return low, high


@dataclass(frozen=True)
class CorrelationMatrix:
    """Item × item pairwise-complete correlations and respondent counts.

    Attributes
    ----------
    items : list of str
        Column names, in the order of the input frame.
    r : numpy.ndarray
        Pearson r, NaN where a pair has fewer than 2 respondents or is constant within the pair.
        The diagonal is 1 for items that vary, NaN otherwise.
    n : numpy.ndarray
        Respondents who answered both items (int64); the diagonal holds each item's count.
    """

    items: list[str]
    r: FloatArray
    n: npt.NDArray[np.int64]

    def frame(self) -> pd.DataFrame:
        """r as a labelled DataFrame, like ``pandas.DataFrame.corr()``."""
        return pd.DataFrame(self.r, index=self.items, columns=self.items)


def correlate(frame: pd.DataFrame, *, method: Method = "pearson", progress: bool = False) -> pd.DataFrame:
    """Correlation table of every pair of items with at least 3 joint respondents.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per respondent, one numeric column per item, NaN = not answered.
        Yes/no answers are 1/0 (r is then the phi coefficient).
    method : {"pearson", "spearman"}, default "pearson"
        ``"pearson"`` (what the source material uses) or ``"spearman"``: the same kernel on
        each item's ranks (average ranks for ties, ranked over all of the item's
        respondents), robust to one extreme count answer.
    progress : bool, default False
        Show a progress bar on stderr (only when stderr is a terminal).

    Returns
    -------
    pandas.DataFrame
        Columns ``item_a, item_b, r, n, p, q, band, ci_low, ci_high, rank_r,
        rank_band_differs``, one row per unordered pair in column order with n ≥ 3.
        With ``method="pearson"``, ``r`` equals ``frame.corr()`` (pairwise-complete
        Pearson); ``p`` is two-sided (t-test with n − 2 degrees of freedom, as
        ``scipy.stats.pearsonr``; ``scipy.stats.spearmanr``'s approximation for ranks);
        ``q`` is the Benjamini–Hochberg adjusted p over all pairs that have a p;
        ``ci_low``/``ci_high`` the 95 % Fisher-z interval of r (see :func:`fisher_interval`);
        ``band`` the strength band of r (boundaries compared with a 1e-9 tolerance).
        ``rank_r`` is the rank (Spearman) coefficient of the pair and ``rank_band_differs``
        says whether it falls in another band than ``r`` — a sign that a few extreme answers
        drive r. With complete data ``rank_r`` equals ``scipy.stats.spearmanr``; with
        pairwise deletion each item is ranked over all its respondents. Pairs constant
        within their joint respondents have r, p, q NaN and band ``none``.

    Raises
    ------
    ValueError
        If a column is not numeric, holds ±inf, or column names repeat; the message names
        the column.
    """
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman', not {method!r}")
    matrix, rank_matrix = correlation_matrices(frame, progress=progress)
    if method == "spearman":
        return pairs_table(rank_matrix, rank_matrix=rank_matrix, rank=True)
    return pairs_table(matrix, rank_matrix=rank_matrix)


def rank_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Each column replaced by the average ranks of its answers (NaN stays NaN).

    Yes/no columns keep two distinct values, so their coefficients do not change.
    """
    values = _checked_values(frame)
    return pd.DataFrame(_average_ranks(values), index=frame.index, columns=frame.columns, copy=False)


def _average_ranks(values: FloatArray) -> FloatArray:
    """Column-wise average ranks (1-based, ties share the mean of their positions), NaN kept.

    The same numbers as ``DataFrame.rank(method="average")``, from one sort and two binary
    searches per column instead of pandas' general routine (10 s at 100,000 × 185).
    """
    ranks = np.full(values.shape, np.nan)
    for j in range(values.shape[1]):
        column = values[:, j]
        answered = ~np.isnan(column)
        given = column[answered]
        ordered = np.sort(given)
        below = np.searchsorted(ordered, given, side="left")
        through = np.searchsorted(ordered, given, side="right")
        # Positions below+1 … through share the value: their mean is (below + through + 1) / 2.
        ranks[answered, j] = (below + through + 1) / 2.0
    return ranks


def correlation_matrices(
    frame: pd.DataFrame, *, progress: bool = False
) -> tuple[CorrelationMatrix, CorrelationMatrix]:
    """Pearson and rank (Spearman) matrices of ``frame``'s columns from one pass over the rows.

    The rank matrix is :func:`correlation_matrix` of :func:`rank_frame`. A column with at
    most two distinct answers (every yes/no item) ranks to an increasing linear function of
    itself, which leaves every r it is in unchanged, so only the other columns are ranked;
    their ranks join the original columns in one run of the kernel. On the catalog (172
    yes/no and 13 count items) that is one product over 198 columns instead of two over 185.

    Returns
    -------
    (CorrelationMatrix, CorrelationMatrix)
        Pearson, then rank coefficients; both have the same ``items`` and ``n``.
    """
    values = _checked_values(frame)
    items = [str(c) for c in frame.columns]
    k = values.shape[1]
    # fmin/fmax skip NaN; a column nobody answered is NaN at both ends and has nothing to rank.
    low = np.fmin.reduce(values, axis=0, initial=np.inf)
    high = np.fmax.reduce(values, axis=0, initial=-np.inf)
    at_ends = np.count_nonzero((values == low) | (values == high), axis=0)
    ranked = np.flatnonzero(at_ends != np.count_nonzero(~np.isnan(values), axis=0))
    # The ranked columns are read beside the originals block by block, never copied together.
    names = items + [f"rank:{item}" for item in np.asarray(items, dtype=object)[ranked]]
    both = _matrix(names, (values, _average_ranks(values[:, ranked])), progress)
    position = np.arange(k)
    position[ranked] = k + np.arange(len(ranked))
    n = both.n[:k, :k]
    pearson = CorrelationMatrix(items, both.r[:k, :k].copy(), n.copy())
    rank = CorrelationMatrix(items, both.r[np.ix_(position, position)], n.copy())
    return pearson, rank


def pairs_table(
    matrix: CorrelationMatrix, *, rank_matrix: CorrelationMatrix | None = None, rank: bool = False
) -> pd.DataFrame:
    """Turn a :class:`CorrelationMatrix` into the tidy pairs table (see :func:`correlate`).

    ``rank_matrix`` (the same items' rank correlations) fills ``rank_r``; without it
    ``rank_r`` is NaN and ``rank_band_differs`` False. ``rank=True`` says ``matrix`` itself
    holds rank coefficients (wider Fisher interval).
    """
    k = len(matrix.items)
    ia, ib = np.triu_indices(k, k=1)
    n = matrix.n[ia, ib]
    keep = n >= MIN_PAIR_N
    ia, ib, n = ia[keep], ib[keep], n[keep]
    r = matrix.r[ia, ib]
    p = pearson_pvalues(r, n)
    items = np.asarray(matrix.items, dtype=object)
    low, high = fisher_interval(r, n, rank=rank)
    band_names = bands(r)
    if rank_matrix is not None:
        rank_r = rank_matrix.r[ia, ib]
        differs = (bands(rank_r) != band_names) & ~np.isnan(rank_r) & ~np.isnan(r)
    else:
        rank_r = np.full(len(r), np.nan)
        differs = np.zeros(len(r), dtype=bool)
    return pd.DataFrame(
        {
            "item_a": pd.Series(items[ia], dtype=object),
            "item_b": pd.Series(items[ib], dtype=object),
            "r": r,
            "n": n.astype(np.int64),
            "p": p,
            "q": bh_qvalues(p),
            "band": pd.Series(band_names, dtype=object),
            "ci_low": low,
            "ci_high": high,
            "rank_r": rank_r,
            "rank_band_differs": differs.astype(bool),
        },
        columns=list(PAIR_COLUMNS),
    )


def target_correlations(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """Correlation of one target item with every other item, q over that family only.

    The family of tests is the k − 1 pairs that involve ``target``: adding items that
    correlate with each other but not with the target must not loosen the cut, which is
    what happens when BH runs over all k(k − 1)/2 pairs.

    Parameters
    ----------
    frame : pandas.DataFrame
        Answers, NaN = not answered.
    target : str
        A column of ``frame``.

    Returns
    -------
    pandas.DataFrame
        Columns ``item, r, n, p, q`` in frame column order, one row per other item with
        at least 3 joint respondents; r, n, p as in :func:`correlate`, q the
        Benjamini–Hochberg adjustment over these rows.
    """
    _check_numeric(frame)
    if target not in frame.columns:
        raise ValueError(f"target item {target!r} is not a column of the answers")
    others = [c for c in frame.columns if c != target]
    y = frame[target].to_numpy(dtype=np.float64, na_value=np.nan)
    x = frame[others].to_numpy(dtype=np.float64, na_value=np.nan)
    both = ~np.isnan(x) & ~np.isnan(y)[:, None]
    n = both.sum(axis=0)
    # Centre on each column's mean over its joint rows to avoid cancellation.
    xs = np.where(both, x, 0.0)
    ys = np.where(both, y[:, None], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = xs.sum(axis=0) / n
        my = ys.sum(axis=0) / n
        dx = np.where(both, x - mx, 0.0)
        dy = np.where(both, y[:, None] - my, 0.0)
        sxy = (dx * dy).sum(axis=0)
        sxx = (dx * dx).sum(axis=0)
        syy = (dy * dy).sum(axis=0)
        r = sxy / np.sqrt(sxx * syy)
    r = np.where((sxx > 0) & (syy > 0) & (n >= 2), np.clip(r, -1.0, 1.0), np.nan)
    keep = n >= MIN_PAIR_N
    items = np.asarray(others, dtype=object)[keep]
    r, n = r[keep], n[keep].astype(np.int64)
    p = pearson_pvalues(r, n)
    return pd.DataFrame(
        {"item": pd.Series(items, dtype=object), "r": r, "n": n, "p": p, "q": bh_qvalues(p)},
        columns=list(TARGET_COLUMNS),
    )


def pearson_pvalues(r: FloatArray, n: npt.NDArray[np.int64]) -> FloatArray:
    """Two-sided p-values of Pearson r under H0: ρ = 0 (NaN where r is NaN or n < 3).

    Uses the identity ``p = I_{1−r²}((n−2)/2, 1/2)`` (regularised incomplete beta), which
    is the t-test with n − 2 degrees of freedom without forming t (no overflow at |r| = 1).
    """
    p = np.full(r.shape, np.nan)
    ok = ~np.isnan(r) & (n >= MIN_PAIR_N)
    rr = np.clip(r[ok], -1.0, 1.0)
    p[ok] = betainc((n[ok] - 2) / 2.0, 0.5, 1.0 - rr * rr)
    return p


class _NotBinaryError(Exception):
    """A column sampled as 0/1 turned out to hold other values; recompute it as general."""

    def __init__(self, columns: npt.NDArray[np.intp]) -> None:
        super().__init__(columns)
        self.columns = columns


def correlation_matrix(frame: pd.DataFrame, *, progress: bool = False) -> CorrelationMatrix:
    """Pairwise-complete correlation matrix and pair counts of ``frame``'s columns.

    Parameters
    ----------
    frame : pandas.DataFrame
        One numeric column per item, NaN = not answered.
    progress : bool, default False
        Show a progress bar on stderr (only when stderr is a terminal).

    Returns
    -------
    CorrelationMatrix
        r equals ``frame.corr()`` (to rounding) and n counts joint respondents.

    Raises
    ------
    ValueError
        If a column is not numeric or column names repeat.
    """
    return _matrix([str(c) for c in frame.columns], (_checked_values(frame),), progress)


def _matrix(items: list[str], parts: tuple[FloatArray, ...], progress: bool) -> CorrelationMatrix:
    """The kernel on the columns of ``parts`` (float64 arrays of the same rows) side by side."""
    blocks = _Blocks(parts)
    n_rows, k = blocks.n_rows, blocks.k
    if k == 0 or n_rows == 0:
        return CorrelationMatrix(items, np.full((k, k), np.nan), np.zeros((k, k), dtype=np.int64))
    binary, shift = _sample_layout(blocks)
    # One BLAS thread: the per-chunk products are small, and on a machine whose cores are
    # busy OpenBLAS's threads spin-wait for each other -- five times the CPU time of a
    # single thread was measured on a shared 2-core machine, for at best 2x on an idle one.
    with threadpool_limits(limits=1, user_api="blas"):
        while True:
            try:
                moments = _moments(blocks, binary, shift, progress)
                break
            except _NotBinaryError as exc:
                binary[exc.columns] = False
                shift[exc.columns] = _column_means(blocks, exc.columns)
    return CorrelationMatrix(items, _r_from_moments(*moments), np.rint(moments[0]).astype(np.int64))


def _check_numeric(frame: pd.DataFrame) -> None:
    _checked_values(frame)


def _checked_values(frame: pd.DataFrame) -> FloatArray:
    """The frame as a float64 array, NaN = not answered, after checking names and values.

    For an all-float64 frame this is a view: the input is not copied.
    """
    duplicated = frame.columns[frame.columns.duplicated()]
    if len(duplicated):
        raise ValueError(f"column {duplicated[0]!r} appears more than once")
    for name, dtype in frame.dtypes.items():
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
            raise ValueError(f"column {name!r} is not numeric (dtype {dtype})")
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    infinite = np.isinf(values).any(axis=0)
    if infinite.any():
        # An infinite answer would poison every sum of its column and silently empty
        # every pair it is in; it is a bad value, like text in a numeric column.
        raise ValueError(f"column {frame.columns[np.flatnonzero(infinite)[0]]!r} holds an infinite value")
    return values


@dataclass(frozen=True)
class _Blocks:
    """Float64 arrays of the same rows, read as one matrix of their columns side by side."""

    parts: tuple[FloatArray, ...]

    @property
    def n_rows(self) -> int:
        return int(self.parts[0].shape[0])

    @property
    def k(self) -> int:
        return sum(int(part.shape[1]) for part in self.parts)

    def rows(self, index: slice) -> FloatArray:
        if len(self.parts) == 1:
            return self.parts[0][index]
        return np.hstack([part[index] for part in self.parts])


def _sample_layout(blocks: _Blocks) -> tuple[npt.NDArray[np.bool_], FloatArray]:
    """Guess which columns are 0/1 and a centring shift for the others, from a row sample."""
    step = max(1, blocks.n_rows // _SAMPLE_ROWS)
    sample = blocks.rows(slice(None, None, step))
    answered = ~np.isnan(sample)
    binary = np.all((sample == 0) | (sample == 1) | ~answered, axis=0)
    counts = answered.sum(axis=0)
    sums = np.where(answered, sample, 0.0).sum(axis=0)
    shift = np.divide(sums, counts, out=np.zeros(sample.shape[1]), where=counts > 0)
    shift[binary] = 0.0
    return binary, shift


def _column_means(blocks: _Blocks, columns: npt.NDArray[np.intp]) -> FloatArray:
    counts = np.zeros(len(columns))
    sums = np.zeros(len(columns))
    for start, stop in _row_chunks(blocks.n_rows, blocks.k):
        values = blocks.rows(slice(start, stop))[:, columns]
        answered = ~np.isnan(values)
        counts += answered.sum(axis=0)
        sums += np.where(answered, values, 0.0).sum(axis=0)
    means: FloatArray = np.divide(sums, counts, out=np.zeros(len(columns)), where=counts > 0)
    return means


def _row_chunks(n_rows: int, k: int) -> Iterator[tuple[int, int]]:
    size = max(1024, _CHUNK_ELEMENTS // (2 * k))
    for start in range(0, n_rows, size):
        yield start, min(start + size, n_rows)


def _moments(
    blocks: _Blocks,
    binary: npt.NDArray[np.bool_],
    shift: FloatArray,
    progress: bool,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Accumulate n, Sx, Sxx, Sxy over row chunks (see the module docstring)."""
    n_rows, k = blocks.n_rows, blocks.k
    general = np.flatnonzero(~binary)
    bin_cols = np.flatnonzero(binary)
    chunks = list(_row_chunks(n_rows, k))
    rows = chunks[0][1] - chunks[0][0]
    # With only 0/1 columns every per-chunk sum is an integer below 2²⁴, which float32 holds
    # exactly whatever order BLAS adds in; that halves memory traffic and doubles GEMM speed.
    # Totals are accumulated in float64 across chunks.
    dtype = np.float32 if len(general) == 0 and rows < (1 << 24) else np.float64
    # Fortran order: each column of [M | X] is contiguous, which is what BLAS wants for AᵀA.
    buffer = np.empty((rows, 2 * k), order="F", dtype=dtype)
    gram = np.zeros((2 * k, 2 * k))
    squares = np.zeros((len(general), k))
    bar = tqdm(
        chunks,
        desc="相関を計算中",
        unit="ブロック",
        file=sys.stderr,
        disable=None if progress else True,
        leave=False,
    )
    for start, stop in bar:
        values = blocks.rows(slice(start, stop))
        a = buffer[: stop - start]
        mask, x = a[:, :k], a[:, k:]
        # NaN != NaN, so this is the answer mask written straight into the buffer.
        np.equal(values, values, out=mask, casting="unsafe")
        if len(bin_cols):
            _fill_binary(values, x, bin_cols)
        if len(general):
            _fill_general(values, x, general, shift)
        # numpy recognises aᵀa and calls BLAS syrk, so symmetry halves the work.
        block = a.T @ a
        if len(bin_cols):
            _verify_binary(values, bin_cols, np.diagonal(block)[bin_cols])
        gram += block
        if len(general):
            xg = x[:, general]
            squares += (xg * xg).T @ mask
    bar.close()
    n = gram[:k, :k]
    sx = gram[k:, :k]
    sxy = gram[k:, k:]
    sxx = sx.copy()
    sxx[general] = squares
    return n, sx, sxx, sxy


def _fill_binary(values: FloatArray, x: npt.NDArray[np.floating[Any]], cols: npt.NDArray[np.intp]) -> None:
    # fmax returns the non-NaN argument, so this zero-fills in one pass; values below 0 are
    # caught by _verify_binary, which checks the raw values.
    if len(cols) == x.shape[1]:
        np.fmax(values, 0.0, out=x, casting="same_kind")
    else:
        x[:, cols] = np.fmax(values[:, cols], 0.0)


def _fill_general(
    values: FloatArray, x: npt.NDArray[np.floating[Any]], cols: npt.NDArray[np.intp], shift: FloatArray
) -> None:
    centred = values[:, cols] - shift[cols]
    np.copyto(centred, 0.0, where=np.isnan(centred))
    x[:, cols] = centred


def _verify_binary(values: FloatArray, cols: npt.NDArray[np.intp], answered: FloatArray) -> None:
    # A column sampled as 0/1 must stay 0/1 in every chunk, or x² = x (and fmax) would lie.
    vb = values if len(cols) == values.shape[1] else values[:, cols]
    zero_one = np.count_nonzero(vb == 1.0, axis=0) + np.count_nonzero(vb == 0.0, axis=0)
    bad = zero_one != answered
    if bad.any():
        raise _NotBinaryError(cols[bad])


def _r_from_moments(n: FloatArray, sx: FloatArray, sxx: FloatArray, sxy: FloatArray) -> FloatArray:
    # Row a, column b: sums of item a over the rows where both a and b are answered.
    num = n * sxy - sx * sx.T
    var = n * sxx - sx * sx
    # A column constant within the pair leaves only rounding noise in var; 64 ulps of the
    # raw sum of squares separates that from any real spread.
    tiny = 64.0 * np.finfo(np.float64).eps * n * np.abs(sxx)
    varies = var > tiny
    ok = varies & varies.T & (n >= 2)
    r = np.full(n.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        r[ok] = num[ok] / np.sqrt(var[ok] * var.T[ok])
    np.clip(r, -1.0, 1.0, out=r)
    return r
