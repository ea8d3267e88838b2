from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from segmentation.correlation import correlation_matrix
from segmentation.heatmap import cluster_order, plot_heatmap, plot_sports_heatmap
from segmentation.synthetic import make_survey


def test_cluster_order_puts_planted_groups_together() -> None:
    survey = make_survey(3000, 20, n_groups=2, group_size=5, loading=0.8, seed=4)
    r = correlation_matrix(survey.frame).frame()
    order = [str(r.columns[i]) for i in cluster_order(r.to_numpy())]
    for group in (0, 1):
        positions = sorted(order.index(item) for item, g in survey.structure.groups.items() if g == group)
        assert positions[-1] - positions[0] == 4


def test_heatmaps_are_written_as_png(tmp_path: Path) -> None:
    r = pd.DataFrame(np.eye(3), index=["a", "b", "c"], columns=["a", "b", "c"])
    r.loc["a", "c"] = r.loc["c", "a"] = np.nan
    labels = {"a": "スポーツ観戦が好き", "b": "スーパー銭湯によく行く", "c": "サウナが好き"}
    for path in (
        plot_heatmap(r, tmp_path / "h.png", labels=labels),
        plot_sports_heatmap(r, tmp_path / "s.png", sports={"a"}, labels=labels),
    ):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
