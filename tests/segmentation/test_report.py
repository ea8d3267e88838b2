from __future__ import annotations

from pathlib import Path

import pandas as pd

from segmentation.heatmap import plot_heatmap
from segmentation.report import pair_sentence, write_report

LABELS = {
    "likes_watching_sports": "スポーツ観戦が好き",
    "likes_super_sento": "スーパー銭湯によく行く",
    "live_games_per_year": "現地でみる頻度は？",
    "highlights_are_enough": "試合後のハイライト動画で十分だ",
}


def test_sentence_for_positive_pair_matches_the_issue_example() -> None:
    text = pair_sentence("likes_watching_sports", "likes_super_sento", 0.52, 1240, LABELS)
    assert text == "スポーツ観戦が好きな人は、スーパー銭湯によく行く傾向があります（r=0.52, 回答者 1,240人）"


def test_negative_pair_gets_the_opposite_phrasing() -> None:
    text = pair_sentence("highlights_are_enough", "likes_super_sento", -0.41, 300, LABELS)
    assert text == (
        "試合後のハイライト動画で十分な人は、「スーパー銭湯によく行く」には当てはまらない"
        "傾向があります（r=-0.41, 回答者 300人）"
    )


def test_count_items_are_phrased_as_many_or_few() -> None:
    counts = {"live_games_per_year"}
    assert pair_sentence("likes_super_sento", "live_games_per_year", -0.3, 50, LABELS, counts).startswith(
        "スーパー銭湯によく行く人は、「現地でみる頻度は」の回答が少ない傾向"
    )


def test_report_is_self_contained_japanese_html(tmp_path: Path) -> None:
    pairs = pd.DataFrame(
        {
            "item_a": ["likes_watching_sports"],
            "item_b": ["likes_super_sento"],
            "r": [0.52],
            "n": [1240],
            "p": [1e-9],
            "q": [1e-8],
            "band": ["moderate"],
        }
    )
    r = pd.DataFrame([[1.0, 0.52], [0.52, 1.0]], index=list(LABELS)[:2], columns=list(LABELS)[:2])
    image = plot_heatmap(r, tmp_path / "h.png", labels=LABELS)
    page = write_report(
        tmp_path / "report.html", pairs, respondents=1500, n_items=2, images={"全項目": image}, labels=LABELS
    ).read_text("utf-8")
    assert 'src="data:image/png;base64,' in page
    assert "http" not in page
    assert "スポーツ観戦が好きな人は、スーパー銭湯によく行く傾向があります" in page
    assert "相関あり" in page and "0.8 以上" in page and "q 値" in page


def test_sports_by_non_sports_table_puts_the_sports_item_first(tmp_path: Path) -> None:
    pairs = pd.DataFrame(
        {
            # A non-sports item first in the table must still read "sports fans ... sento".
            "item_a": ["likes_super_sento", "likes_watching_sports", "likes_watching_sports"],
            "item_b": ["live_games_per_year", "highlights_are_enough", "likes_super_sento"],
            "r": [0.41, 0.6, 0.2],
            "n": [500, 500, 500],
            "p": [1e-9, 1e-12, 1e-4],
            "q": [1e-8, 1e-11, 1e-3],
            "band": ["weak", "moderate", "none"],
        }
    )
    sports = {"likes_watching_sports", "live_games_per_year", "highlights_are_enough"}
    page = write_report(
        tmp_path / "report.html",
        pairs,
        respondents=500,
        n_items=4,
        images={},
        labels=LABELS,
        counts={"live_games_per_year"},
        sports=sports,
    ).read_text("utf-8")
    cross = page[page.index("スポーツ × スポーツ以外") :]
    assert "「現地でみる頻度は」の回答が多い人は、スーパー銭湯によく行く傾向があります" in cross
    assert "試合後のハイライト動画で十分" not in cross  # sports × sports is not a cross pair
    assert cross.index("現地でみる頻度は") < cross.index("スポーツ観戦が好き")  # ordered by |r|
