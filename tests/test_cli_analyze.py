from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from bot.commands.analyze import analyze
from data.catalog import load_catalog
from segmentation.synthetic import make_survey


def test_analyze_writes_outputs_and_prints_japanese_summary(tmp_path: Path) -> None:
    ids = [item.id for item in load_catalog().items][:40]
    survey = make_survey(600, items=[*ids, "likes_super_sento"], target="likes_super_sento", seed=9)
    survey.frame.to_csv(tmp_path / "answers.csv")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        analyze,
        [str(tmp_path / "answers.csv"), "--out", str(out), "--target", "likes_super_sento", "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    assert "回答者 600 人" in result.output and "AUC" in result.output
    for name in ("pairs.csv", "heatmap.png", "heatmap_sports.png", "report.html"):
        assert (out / name).exists()
    pairs = pd.read_csv(out / "pairs.csv")
    assert list(pairs.columns) == [
        *("item_a", "item_b", "r", "n", "p", "q", "band"),
        *("ci_low", "ci_high", "rank_r", "rank_band_differs"),
    ]


def test_bad_file_gives_japanese_error(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("id,a,b\n1,1,x\n", encoding="utf-8")
    result = CliRunner().invoke(analyze, [str(tmp_path / "bad.csv"), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert "C列（b）の2行目" in result.output
