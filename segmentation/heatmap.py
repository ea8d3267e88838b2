"""Heatmaps of the correlation matrix with Japanese item labels.

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas directly, so no
pyplot state or global backend is touched, and the bundled IPAex Gothic font from
matplotlib-fontja is registered only when a picture is drawn.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap, LinearSegmentedColormap
from matplotlib.figure import Figure

__all__ = ["cluster_order", "japanese_font_name", "plot_heatmap", "plot_sports_heatmap"]

# Inches per matrix cell: 0.14" fits a 6 pt label, which stays legible at 200 items.
_CELL_INCHES = 0.14
_LABEL_POINTS = 6.0
_BAND_TICKS = (-1.0, -0.8, -0.5, -0.3, 0.0, 0.3, 0.5, 0.8, 1.0)


def japanese_font_name() -> str:
    """Register the bundled Japanese font with matplotlib and return its family name."""
    import matplotlib_fontja
    from matplotlib import font_manager

    path = str(matplotlib_fontja.get_font_ttf_path())
    if path not in {f.fname for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(path)
    return str(font_manager.FontProperties(fname=path).get_name())


def cluster_order(r: pd.DataFrame | npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """Order items so that related ones sit together.

    Average-linkage hierarchical clustering on the distance ``1 − |r|`` (a missing r counts
    as no correlation), with optimal leaf ordering so neighbouring leaves are most similar.

    Parameters
    ----------
    r : pandas.DataFrame or numpy.ndarray
        Square correlation matrix.

    Returns
    -------
    numpy.ndarray
        Positions of the items in display order.
    """
    from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
    from scipy.spatial.distance import squareform

    values = np.asarray(r, dtype=np.float64)
    k = values.shape[0]
    if k < 3:
        return np.arange(k)
    distance = 1.0 - np.abs(np.nan_to_num(values, nan=0.0))
    np.fill_diagonal(distance, 0.0)
    distance = np.clip((distance + distance.T) / 2.0, 0.0, 1.0)
    condensed = squareform(distance, checks=False)
    tree = linkage(condensed, method="average")
    return np.asarray(leaves_list(optimal_leaf_ordering(tree, condensed)), dtype=np.intp)


def _colormap() -> Colormap:
    base = matplotlib.colormaps["RdBu_r"]
    cmap = LinearSegmentedColormap.from_list("fanbot_rdbu", base(np.linspace(0, 1, 256)))
    # Pairs without an r (too few joint answers) are grey, distinct from r = 0 (white).
    return cmap.with_extremes(bad="#c8c8c8")


def plot_heatmap(
    r: pd.DataFrame,
    path: str | Path,
    *,
    labels: Mapping[str, str] | None = None,
    order: bool = True,
    title: str = "項目間の相関（ピアソンの r）",
    muted: pd.DataFrame | None = None,
) -> Path:
    """Draw an item × item correlation heatmap to a PNG file.

    Parameters
    ----------
    r : pandas.DataFrame
        Correlations, index = row items, columns = column items (square or rectangular).
    path : str or pathlib.Path
        Output PNG.
    labels : mapping, optional
        Item id -> Japanese text for the axis labels (ids are used for unknown items).
    order : bool
        For a square matrix, reorder by :func:`cluster_order`; rectangular input is drawn
        in the given order.
    title : str
        Figure title.
    muted : pandas.DataFrame, optional
        Booleans aligned with ``r`` (extra labels ignored): True cells are drawn faded,
        for pairs that are not significant (q ≥ 0.05), so chance does not catch the eye.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    if order and list(r.index) == list(r.columns):
        idx = cluster_order(r.to_numpy(dtype=np.float64))
        r = r.iloc[idx, idx]
    return _draw(r, Path(path), labels or {}, title, muted)


def plot_sports_heatmap(
    r: pd.DataFrame,
    path: str | Path,
    *,
    sports: Collection[str],
    labels: Mapping[str, str] | None = None,
    title: str = "スポーツ関連の項目 × スポーツ以外の項目の相関",
    muted: pd.DataFrame | None = None,
) -> Path:
    """Draw sports items (rows) × non-sports items (columns), each side clustered.

    Parameters
    ----------
    r : pandas.DataFrame
        Square correlation matrix over all items.
    path : str or pathlib.Path
        Output PNG.
    sports : collection of str
        Items the catalog marks ``sports_related``.
    labels : mapping, optional
        Item id -> Japanese text.
    title : str

    Returns
    -------
    pathlib.Path
        The written file.
    """
    ordered = _in_cluster_order(r)
    rows = [c for c in ordered if c in sports]
    cols = [c for c in ordered if c not in sports]
    return _draw(r.loc[rows, cols], Path(path), labels or {}, title, muted)


def _in_cluster_order(r: pd.DataFrame) -> Sequence[str]:
    idx = cluster_order(r.to_numpy(dtype=np.float64))
    return [str(r.columns[i]) for i in idx]


def _label_inches(texts: Sequence[str]) -> float:
    """Length of the longest label at the tick font size (full-width characters are 1 em)."""
    em = _LABEL_POINTS / 72.0
    longest = max((sum(1.0 if ord(ch) > 0x2E7F else 0.6 for ch in text) for text in texts), default=0.0)
    return longest * em


def _draw(
    r: pd.DataFrame, path: Path, labels: Mapping[str, str], title: str, muted: pd.DataFrame | None = None
) -> Path:
    n_rows, n_cols = r.shape
    column_labels = [labels.get(str(c), str(c)) for c in r.columns]
    row_labels = [labels.get(str(i), str(i)) for i in r.index]
    # Margins computed from the labels instead of bbox_inches="tight", which draws every
    # figure twice (to measure, then to save): at 185 labels a side that doubled the cost.
    left = _label_inches(row_labels) + 0.3
    bottom = _label_inches(column_labels) + 0.3
    top, right = 0.9, 1.6
    width = max(6.0, n_cols * _CELL_INCHES + left + right)
    height = max(5.0, n_rows * _CELL_INCHES + top + bottom)
    font = japanese_font_name()
    with matplotlib.rc_context({"font.family": font, "axes.unicode_minus": False}):
        figure = Figure(figsize=(width, height), dpi=150)
        FigureCanvasAgg(figure)
        ax = figure.add_axes(
            (left / width, bottom / height, 1 - (left + right) / width, 1 - (top + bottom) / height)
        )
        values = np.ma.masked_invalid(r.to_numpy(dtype=np.float64))
        image = ax.imshow(values, cmap=_colormap(), vmin=-1.0, vmax=1.0, interpolation="nearest")
        if muted is not None:
            fade = muted.reindex(index=r.index, columns=r.columns).fillna(False).to_numpy(dtype=bool)
            overlay = np.zeros((n_rows, n_cols, 4))
            overlay[fade] = (1.0, 1.0, 1.0, 0.75)
            ax.imshow(overlay, interpolation="nearest")
        ax.set_xticks(np.arange(n_cols))
        ax.set_yticks(np.arange(n_rows))
        ax.set_xticklabels(column_labels, rotation=90, fontsize=_LABEL_POINTS)
        ax.set_yticklabels(row_labels, fontsize=_LABEL_POINTS)
        ax.tick_params(length=0)
        ax.set_title(title, fontsize=14, pad=12)
        bar_height = min(0.6, 12.0 / height) * (1 - (top + bottom) / height)
        bar_axes = figure.add_axes((1 - (right - 0.15) / width, bottom / height, 0.18 / width, bar_height))
        bar = figure.colorbar(image, cax=bar_axes, ticks=list(_BAND_TICKS))
        bar.ax.set_ylabel(
            "r（赤: 正 / 青: 負 / 灰: 回答不足"
            + (" / 薄い色: q >= 0.05" if muted is not None else "")
            + "）",
            fontsize=8,
        )
        figure.savefig(path, format="png")
    return path
