from __future__ import annotations

from pathlib import Path

import numpy as np
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


def test_shown_r_never_sits_in_another_band_than_its_label() -> None:
    from segmentation.correlation import band
    from segmentation.report import display_r

    for r in (0.4996, 0.5, 0.29999999999999977, 0.3, -0.7999999, 0.8, 0.0049, -0.0001):
        shown = float(display_r(r))
        assert band(shown) == band(r), (r, shown)
    assert display_r(0.4996) == "0.49"
    assert display_r(0.29999999999999977) == "0.30"


def test_interval_words_name_every_band_it_covers() -> None:
    from segmentation.correlation import fisher_interval
    from segmentation.report import band_span_ja

    low, high = fisher_interval(np.array([0.41]), np.array([536]))
    assert band_span_ja(float(low[0]), float(high[0])) == "弱い"
    low, high = fisher_interval(np.array([0.46]), np.array([536]))
    assert band_span_ja(float(low[0]), float(high[0])) == "弱い〜中程度"
    assert band_span_ja(-0.1, 0.35) == "ほぼなし〜弱い"


def test_report_tells_the_marketer_what_the_numbers_do_not_say(tmp_path: Path) -> None:
    from segmentation.correlation import correlate

    rng = np.random.default_rng(4)
    n = 3000
    z = rng.standard_normal(n)
    frame = pd.DataFrame(
        {
            "likes_watching_sports": (z + rng.standard_normal(n) > 0).astype(float),
            "likes_super_sento": (0.9 * z + rng.standard_normal(n) > 0).astype(float),
            "live_games_per_year": np.clip(np.round(2 + z + rng.standard_normal(n)), 0, 10),
            "highlights_are_enough": (0.15 * z + rng.standard_normal(n) > 0).astype(float),
        }
    )
    pairs = correlate(frame)
    page = write_report(
        tmp_path / "report.html", pairs, respondents=n, n_items=4, images={}, labels=LABELS
    ).read_text("utf-8")
    significant = pairs[pairs["q"] < 0.05]
    weak = int((significant["band"] == "none").sum())
    assert weak > 0
    assert f"うち {weak} 組は「ほぼ相関なし」" in page
    assert "答えた人だけの数字です" in page and "上限があります" in page
    assert "95% の幅" in page
    row = pairs.iloc[0]
    assert f"{float(row['ci_low']):.2f}"[:3] in page


def test_report_escapes_labels_as_html(tmp_path: Path) -> None:
    pairs = pd.DataFrame(
        {
            "item_a": ["a"],
            "item_b": ["b"],
            "r": [0.6],
            "n": [100],
            "p": [1e-9],
            "q": [1e-8],
            "band": ["moderate"],
            "ci_low": [0.46],
            "ci_high": [0.71],
            "rank_r": [0.2],
            "rank_band_differs": [True],
        }
    )
    labels = {"a": "<script>alert(1)</script>", "b": "B & C"}
    page = write_report(
        tmp_path / "r.html", pairs, respondents=100, n_items=2, images={}, labels=labels
    ).read_text("utf-8")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page and "B &amp; C" in page
    assert "※ 順位相関では 0.20" in page
    assert "0.46〜0.71（弱い〜中程度）" in page


def test_target_section_shows_quality_predictors_and_their_direction(tmp_path: Path) -> None:
    from segmentation.report import analyze_frame
    from segmentation.synthetic import make_survey

    survey = make_survey(1500, 20, target="likes_super_sento", n_groups=3, group_size=4, seed=3)
    result = analyze_frame(survey.frame, tmp_path, target="likes_super_sento")
    page = result.files["report"].read_text("utf-8")
    assert result.evaluation is not None and result.evaluation.can_rank
    assert "似ているファンの見つけ方" in page and f"{result.evaluation.auc:.3f}" in page
    assert "スコアを高める" in page
    assert "答えていないファンも" in page
