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
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Colormap, LinearSegmentedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.transforms import ScaledTranslation, blended_transform_factory

__all__ = ["cluster_order", "japanese_font_name", "plot_heatmap", "plot_sports_heatmap"]

# Inches per matrix cell: 0.14" fits a 6 pt label, which stays legible at 200 items.
_CELL_INCHES = 0.14
_LABEL_POINTS = 6.0
_LABEL_PAD_POINTS = 3.5  # matplotlib's default gap between an axis and its tick labels
_BAND_TICKS = (-1.0, -0.8, -0.5, -0.3, 0.0, 0.3, 0.5, 0.8, 1.0)
# Opacity of the white laid over pairs that are not significant.
_MUTED_ALPHA = 0.75


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


def _label_cells(figure: Figure, ax: Axes, row_labels: Sequence[str], column_labels: Sequence[str]) -> None:
    """One text per row and column beside the cells, where tick labels would be.

    Plain texts instead of ticks: matplotlib builds a tick (two lines, two labels, a grid
    line) per label, which at 185 items a side cost more than drawing the labels.
    """
    ax.set_xticks([])
    ax.set_yticks([])
    pad = _LABEL_PAD_POINTS / 72.0
    left = blended_transform_factory(ax.transAxes, ax.transData) + ScaledTranslation(
        -pad, 0.0, figure.dpi_scale_trans
    )
    below = blended_transform_factory(ax.transData, ax.transAxes) + ScaledTranslation(
        0.0, -pad, figure.dpi_scale_trans
    )
    for row, text in enumerate(row_labels):
        ax.text(0.0, row, text, transform=left, ha="right", va="center_baseline", fontsize=_LABEL_POINTS)
    for column, text in enumerate(column_labels):
        ax.text(
            column, 0.0, text, transform=below, ha="center", va="top", rotation=90, fontsize=_LABEL_POINTS
        )


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
        # The cells are coloured here, once per cell, and handed to Agg as 8-bit RGBA: given the
        # float matrix, matplotlib would resample it to the output size first (a 185-item figure
        # is ~4,800 px square) and colour and blend every pixel in float64 -- most of the
        # drawing time and about 1 GB of memory.
        cmap = _colormap()
        norm = Normalize(vmin=-1.0, vmax=1.0)
        cells = cmap(norm(np.ma.masked_invalid(r.to_numpy(dtype=np.float64))), bytes=True)
        if muted is not None:
            fade = muted.reindex(index=r.index, columns=r.columns).fillna(False).to_numpy(dtype=bool)
            # White at 75 % opacity over the cell's colour, as an overlay would composite it.
            faded = cells[fade, :3] * (1 - _MUTED_ALPHA) + 255 * _MUTED_ALPHA
            cells[fade, :3] = np.rint(faded).astype(np.uint8)
        ax.pcolormesh(
            np.arange(n_cols + 1) - 0.5, np.arange(n_rows + 1) - 0.5, cells, antialiased=False, linewidth=0
        )
        ax.set_xlim(-0.5, n_cols - 0.5)
        ax.set_ylim(n_rows - 0.5, -0.5)
        ax.set_aspect("equal")
        _label_cells(figure, ax, row_labels, column_labels)
        ax.set_title(title, fontsize=14, pad=12)
        bar_height = min(0.6, 12.0 / height) * (1 - (top + bottom) / height)
        bar_axes = figure.add_axes((1 - (right - 0.15) / width, bottom / height, 0.18 / width, bar_height))
        bar = figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=bar_axes, ticks=list(_BAND_TICKS))
        bar.ax.set_ylabel(
            "r（赤: 正 / 青: 負 / 灰: 回答不足"
            + (" / 薄い色: q >= 0.05" if muted is not None else "")
            + "）",
            fontsize=8,
        )
        # zlib's fastest level: a tenth of the drawing time saved for files ~10 % larger
        # (flat colour blocks compress well at any level).
        figure.savefig(path, format="png", pil_kwargs={"compress_level": 1})
    return path
