"""The SVG heatmap's colours and hover text."""

from __future__ import annotations

import pandas as pd

from bot.admin.heatmap_svg import block_heatmap, category_overview, pair_lookup, r_color


def test_colours_run_from_blue_through_white_to_red() -> None:
    assert r_color(0.0) == "#ffffff"
    assert r_color(0.8) == "#b2182b"
    assert r_color(0.95) == "#b2182b"
    assert r_color(-0.8) == "#2166ac"
    assert r_color(float("nan")) == "#eeeeee"
    weak, strong = r_color(0.2), r_color(0.6)
    assert int(weak[3:5], 16) > int(strong[3:5], 16)  # stronger is less green: deeper red


PAIRS = pd.DataFrame(
    {
        "item_a": ["a", "a", "b"],
        "item_b": ["b", "c", "c"],
        "r": [0.6, -0.1, 0.05],
        "n": [120, 80, 40],
        "p": [0.0001, 0.3, 0.7],
        "q": [0.0003, 0.45, 0.7],
        "band": ["moderate", "none", "none"],
        "ci_low": [0.47, -0.31, -0.26],
        "ci_high": [0.70, 0.12, 0.35],
    }
)
LABELS = {"a": "現地観戦", "b": "スーパー銭湯", "c": "犬"}


def test_cells_carry_items_r_interval_n_and_q_and_chance_pairs_are_muted() -> None:
    heatmap = block_heatmap(pair_lookup(PAIRS), ["a"], ["b", "c"], LABELS)
    first, second = heatmap.cells
    assert first.title.split("\n") == [
        "現地観戦 × スーパー銭湯",
        "r = +0.60（95%区間 0.47〜0.70）",
        "両方に答えた人 n = 120",
        "q = 0.0003：偶然とは考えにくい",
    ]
    assert first.significant
    assert not second.significant
    assert "偶然の可能性あり" in second.title


def test_overview_takes_the_strongest_significant_pair_per_block() -> None:
    overview = category_overview(
        PAIRS,
        {"sports": ["a"], "other": ["b", "c"]},
        {"sports": "観戦", "other": "その他"},
        lambda a, b: f"/{a}/{b}",
    )
    cells = {cell.href: cell for cell in overview.cells}
    assert cells["/sports/other"].significant
    assert "最も強い r = +0.60" in cells["/sports/other"].title
    assert not cells["/other/other"].significant  # b x c is chance-level
