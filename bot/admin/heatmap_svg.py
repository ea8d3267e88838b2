"""A readable, hoverable heatmap drawn as SVG by a template: one block of items against another.

The PNG heatmap of all ~185 items is too dense to read, so the page splits it: an overview of
category against category (the strongest significant r in each block), and a block view where
each cell is one pair with its r, interval, n and q on hover. Pairs whose q is not below 0.05 are
drawn pale and hatched, so chance-level correlations do not look like findings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

SIGNIFICANT_Q = 0.05


# Colours reach full strength at the "strong" band's edge; survey correlations rarely pass 0.6, and
# a scale to 1.0 would leave nearly every cell too pale to tell apart.
FULL_COLOUR_AT = 0.8


def r_color(r: float) -> str:
    """Blue for negative, white at 0, red for positive (like the PNG heatmap's RdBu)."""
    if math.isnan(r):
        return "#eeeeee"
    low, high = (33, 102, 172), (178, 24, 43)
    end = high if r > 0 else low
    mix = min(1.0, abs(r) / FULL_COLOUR_AT)
    red, green, blue = (round(255 + (channel - 255) * mix) for channel in end)
    return f"#{red:02x}{green:02x}{blue:02x}"


@dataclass(frozen=True)
class Cell:
    x: int
    y: int
    fill: str
    significant: bool
    title: str
    href: str | None = None


@dataclass(frozen=True)
class Label:
    x: int
    y: int
    text: str
    title: str


@dataclass(frozen=True)
class Heatmap:
    width: int
    height: int
    cell: int
    cells: list[Cell]
    row_labels: list[Label]
    column_labels: list[Label]
    left: int
    top: int


def _short(text: str, limit: int = 14) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _interval(row: Mapping[str, Any]) -> str:
    low, high = row.get("ci_low"), row.get("ci_high")
    if isinstance(low, float) and isinstance(high, float) and not (math.isnan(low) or math.isnan(high)):
        return f"（95%区間 {low:.2f}〜{high:.2f}）"
    return ""


def pair_lookup(pairs: pd.DataFrame) -> dict[tuple[str, str], dict[str, Any]]:
    """Each pair under both orders of its items."""
    records: dict[tuple[str, str], dict[str, Any]] = {}
    row: dict[str, Any]
    for row in pairs.to_dict("records"):  # type: ignore[assignment]
        records[(str(row["item_a"]), str(row["item_b"]))] = row
        records[(str(row["item_b"]), str(row["item_a"]))] = row
    return records


def pair_title(a: str, b: str, row: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    r, n, q = float(row["r"]), int(row["n"]), float(row["q"])
    verdict = "偶然とは考えにくい" if q < SIGNIFICANT_Q else "偶然の可能性あり（q ≥ 0.05）"
    return (
        f"{labels.get(a, a)} × {labels.get(b, b)}\n"
        f"r = {r:+.2f}{_interval(row)}\n"
        f"両方に答えた人 n = {n:,}\n"
        f"q = {q:.3g}：{verdict}"
    )


def block_heatmap(
    pairs: dict[tuple[str, str], dict[str, Any]],
    rows: Sequence[str],
    columns: Sequence[str],
    labels: Mapping[str, str],
    *,
    cell: int = 22,
) -> Heatmap:
    left, top = 220, 200
    cells: list[Cell] = []
    for i, a in enumerate(rows):
        for j, b in enumerate(columns):
            if a == b:
                continue
            row = pairs.get((a, b))
            x, y = left + j * cell, top + i * cell
            if row is None:
                cells.append(
                    Cell(x, y, "#f4f4f4", False, f"{labels.get(a, a)} × {labels.get(b, b)}\n回答が足りません")
                )
                continue
            q = float(row["q"])
            cells.append(
                Cell(x, y, r_color(float(row["r"])), q < SIGNIFICANT_Q, pair_title(a, b, row, labels))
            )
    row_labels = [
        Label(left - 6, top + i * cell + cell // 2 + 4, _short(labels.get(a, a)), labels.get(a, a))
        for i, a in enumerate(rows)
    ]
    column_labels = [
        Label(left + j * cell + cell // 2 + 4, top - 6, _short(labels.get(b, b)), labels.get(b, b))
        for j, b in enumerate(columns)
    ]
    return Heatmap(
        width=left + len(columns) * cell + 160,  # room for the last slanted column labels
        height=top + len(rows) * cell + 20,
        cell=cell,
        cells=cells,
        row_labels=row_labels,
        column_labels=column_labels,
        left=left,
        top=top,
    )


def category_overview(
    pairs: pd.DataFrame,
    groups: Mapping[str, Sequence[str]],
    group_labels: Mapping[str, str],
    href: object,
    *,
    cell: int = 44,
) -> Heatmap:
    """Category against category: the strongest significant r of each block (by |r|), linked to the block."""
    item_group = {item: group for group, items in groups.items() for item in items}
    significant = pairs[pairs["q"] < SIGNIFICANT_Q]
    strongest: dict[tuple[str, str], tuple[float, int]] = {}
    for a, b, r in zip(significant["item_a"], significant["item_b"], significant["r"], strict=True):
        ga, gb = item_group.get(str(a)), item_group.get(str(b))
        if ga is None or gb is None:
            continue
        for key in ((ga, gb), (gb, ga)):
            best, count = strongest.get(key, (0.0, 0))
            strongest[key] = (float(r) if abs(float(r)) > abs(best) else best, count + 1)
    names = list(groups)
    left, top = 220, 200
    cells = []
    for i, ga in enumerate(names):
        for j, gb in enumerate(names):
            best, count = strongest.get((ga, gb), (math.nan, 0))
            title = (
                f"{group_labels.get(ga, ga)} × {group_labels.get(gb, gb)}\n"
                + (
                    f"偶然とは考えにくい組み合わせ {count:,}組、最も強い r = {best:+.2f}"
                    if count
                    else "偶然とは考えにくい組み合わせなし"
                )
                + "\nクリックで項目ごとに表示"
            )
            cells.append(
                Cell(
                    left + j * cell,
                    top + i * cell,
                    r_color(best) if count else "#f4f4f4",
                    bool(count),
                    title,
                    href(ga, gb),  # type: ignore[operator]
                )
            )
    row_labels = [
        Label(left - 6, top + i * cell + cell // 2 + 4, group_labels.get(g, g), group_labels.get(g, g))
        for i, g in enumerate(names)
    ]
    column_labels = [
        Label(left + j * cell + cell // 2 + 4, top - 6, group_labels.get(g, g), group_labels.get(g, g))
        for j, g in enumerate(names)
    ]
    return Heatmap(
        left + len(names) * cell + 20,
        top + len(names) * cell + 20,
        cell,
        cells,
        row_labels,
        column_labels,
        left,
        top,
    )
