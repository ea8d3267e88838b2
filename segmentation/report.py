"""The marketer's report (self-contained HTML) and the whole ``fanbot analyze`` run.

Everything a marketer reads here is Japanese; images are embedded as base64 data URIs so
the page opens offline and can be mailed as one file.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

import pandas as pd

from segmentation.correlation import BANDS, correlation_matrix, pairs_table
from segmentation.heatmap import plot_heatmap, plot_sports_heatmap
from segmentation.io import read_answers
from segmentation.lookalike import Evaluation, evaluate

if TYPE_CHECKING:
    from data.catalog import Catalog

__all__ = ["AnalysisResult", "analyze_file", "pair_sentence", "write_report"]

SIGNIFICANT_Q = 0.05
BAND_JA = {b.name: b.label_ja for b in BANDS}
# Endings of na-adjective statements ("〜が好き"): they need な before a noun.
_NA_ENDINGS = ("好き", "嫌い", "得意", "苦手", "大切", "大事", "必要", "派")


def _attributive(text: str) -> str:
    """The statement as a noun modifier: "スポーツ観戦が好き" -> "スポーツ観戦が好きな"."""
    text = text.rstrip("。 ")
    if text.endswith("だ"):
        return text[:-1] + "な"
    if text.endswith(_NA_ENDINGS):
        return text + "な"
    return text


def _count_phrase(text: str) -> str:
    return f"「{text.rstrip('？?。 ')}」の回答が"


def pair_sentence(
    item_a: str,
    item_b: str,
    r: float,
    n: int,
    labels: Mapping[str, str],
    counts: Collection[str] = (),
) -> str:
    """One plain Japanese sentence describing a correlated pair.

    Parameters
    ----------
    item_a, item_b : str
        Item ids.
    r : float
        Correlation; its sign chooses the phrasing.
    n : int
        Respondents who answered both.
    labels : mapping
        Item id -> catalog ``text_ja``.
    counts : collection of str
        Ids of count (how many / how often) items, phrased as "the answer is high".

    Returns
    -------
    str
        e.g. "スポーツ観戦が好きな人は、スーパー銭湯によく行く傾向があります（r=0.52, 回答者 1,240人）".
    """
    text_a, text_b = labels.get(item_a, item_a), labels.get(item_b, item_b)
    subject = f"{_count_phrase(text_a)}多い人" if item_a in counts else f"{_attributive(text_a)}人"
    if item_b in counts:
        predicate = _count_phrase(text_b) + ("多い" if r > 0 else "少ない")
    elif r > 0:
        predicate = _attributive(text_b)
    else:
        predicate = f"「{text_b.rstrip('。 ')}」には当てはまらない"
    return f"{subject}は、{predicate}傾向があります（r={r:.2f}, 回答者 {n:,}人）"


@dataclass(frozen=True)
class AnalysisResult:
    """What :func:`analyze_file` did.

    Attributes
    ----------
    respondents, items : int
        Rows and item columns read.
    pairs : pandas.DataFrame
        The correlation table (as in ``pairs.csv``).
    significant : int
        Pairs with q < 0.05.
    files : dict
        ``pairs``, ``heatmap``, ``heatmap_sports`` (if drawn), ``report`` -> written path.
    evaluation : Evaluation or None
        Cross-validated lookalike quality for ``target``.
    """

    respondents: int
    items: int
    pairs: pd.DataFrame
    significant: int
    files: dict[str, Path]
    evaluation: Evaluation | None

    def strongest(self, top: int = 5) -> pd.DataFrame:
        """The ``top`` significant pairs by |r|."""
        return strongest_pairs(self.pairs, top)


def strongest_pairs(pairs: pd.DataFrame, top: int) -> pd.DataFrame:
    """Significant pairs (q < 0.05), strongest |r| first."""
    sig = pairs[pairs["q"] < SIGNIFICANT_Q]
    order = sig["r"].abs().sort_values(ascending=False, kind="stable").index
    return sig.loc[order].head(top)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _pairs_table(table: pd.DataFrame, labels: Mapping[str, str], counts: Collection[str]) -> str:
    esc = html.escape
    if not len(table):
        return "<p>q &lt; 0.05 の組み合わせはありませんでした。偶然と区別できる関係は見つかっていません。</p>"
    rows = [
        "<tr><th>項目 A</th><th>項目 B</th><th>r</th><th>回答者数 n</th><th>強さ</th><th>q 値</th>"
        "<th>読み方</th></tr>"
    ]
    columns = [table[c].tolist() for c in ("item_a", "item_b", "r", "n", "q", "band")]
    for a, b, r, n, q, band_name in zip(*columns, strict=True):
        rows.append(
            f"<tr><td>{esc(labels.get(a, a))}</td><td>{esc(labels.get(b, b))}</td>"
            f'<td class="num">{r:.2f}</td><td class="num">{n:,}</td>'
            f'<td>{esc(BAND_JA[band_name])}</td><td class="num">{q:.2g}</td>'
            f"<td>{esc(pair_sentence(a, b, r, n, labels, counts))}</td></tr>"
        )
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def write_report(
    path: str | Path,
    pairs: pd.DataFrame,
    *,
    respondents: int,
    n_items: int,
    images: Mapping[str, Path],
    labels: Mapping[str, str] | None = None,
    counts: Collection[str] = (),
    evaluation: Evaluation | None = None,
    top: int = 30,
    sports: Collection[str] = (),
) -> Path:
    """Write the self-contained Japanese HTML report.

    Parameters
    ----------
    path : str or pathlib.Path
        Output ``.html``.
    pairs : pandas.DataFrame
        The correlation table from :func:`segmentation.correlate`.
    respondents, n_items : int
        Shown in the summary.
    images : mapping
        Caption (Japanese) -> PNG path; each is embedded as a data URI.
    labels : mapping, optional
        Item id -> Japanese text.
    counts : collection of str
        Count items (for the sentence phrasing).
    evaluation : Evaluation, optional
        Lookalike quality to show.
    top : int
        Rows in the strongest-pairs table.
    sports : collection of str
        Sports items; when given, a second table lists the strongest sports × non-sports
        pairs, the partner-offer question ("fans who go to games also go to ...").

    Returns
    -------
    pathlib.Path
    """
    labels = labels or {}
    esc = html.escape
    strongest = strongest_pairs(pairs, top)
    pairs_html = _pairs_table(strongest, labels, counts)
    if sports:
        sports = set(sports)
        is_a, is_b = pairs["item_a"].isin(sports), pairs["item_b"].isin(sports)
        # Orient every cross pair as sports item first, the way the sentence reads.
        cross = pairs[is_a != is_b].copy()
        flip = cross["item_b"].isin(sports)
        cross.loc[flip, ["item_a", "item_b"]] = cross.loc[flip, ["item_b", "item_a"]].to_numpy()
        cross_strongest = strongest_pairs(cross, 20)
        pairs_html += (
            f"\n<h2>スポーツ × スポーツ以外で関係の強い組み合わせ（上位 {len(cross_strongest)} 組）</h2>\n"
            "<p>パートナー企業への提案に直接つながる組み合わせです。</p>\n"
            + _pairs_table(cross_strongest, labels, counts)
        )
    band_rows = "\n".join(f"<tr><td>{esc(b.range_ja)}</td><td>{esc(b.label_ja)}</td></tr>" for b in BANDS)
    images_html = "\n".join(
        f'<h3>{esc(caption)}</h3>\n<img alt="{esc(caption)}" src="{_data_uri(p)}">'
        for caption, p in images.items()
    )
    template = Template(resources.files("segmentation").joinpath("templates/report.html").read_text("utf-8"))
    page = template.substitute(
        respondents=f"{respondents:,}",
        items=f"{n_items:,}",
        pairs=f"{len(pairs):,}",
        significant=f"{int((pairs['q'] < SIGNIFICANT_Q).sum()):,}",
        band_rows=band_rows,
        top=len(strongest),
        pairs_table=pairs_html,
        lookalike=_lookalike_html(evaluation, labels),
        images=images_html,
    )
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out


def _lookalike_html(evaluation: Evaluation | None, labels: Mapping[str, str]) -> str:
    if evaluation is None:
        return ""
    name = html.escape(labels.get(evaluation.target, evaluation.target))
    lift = "—" if math.isnan(evaluation.lift_at_20) else f"{evaluation.lift_at_20:.2f} 倍"
    return (
        f"<h2>似ているファンの見つけ方：「{name}」</h2>\n"
        f"<p>この項目に答えた {evaluation.n:,} 人で、答えを隠して当てる試験（5 分割の交差検証）をしました。"
        f"AUC は {evaluation.auc:.3f}（0.5 は当てずっぽう、1 は完全に当たる）、"
        f"スコア上位 20% の人の「はい」の割合は全体の {lift} でした。</p>"
    )


def analyze_file(
    path: str | Path,
    out_dir: str | Path,
    target: str | None = None,
    catalog: Catalog | None = None,
    progress: bool = False,
) -> AnalysisResult:
    """Run the whole ``fanbot analyze`` pipeline on one answer file.

    Parameters
    ----------
    path : str or pathlib.Path
        CSV or XLSX answers (see :func:`segmentation.read_answers`).
    out_dir : str or pathlib.Path
        Created if needed; receives ``pairs.csv``, ``heatmap.png``, ``heatmap_sports.png``
        (when the items include both sports and non-sports items of the catalog) and
        ``report.html``.
    target : str, optional
        A yes/no item to evaluate lookalike scoring for.
    catalog : data.catalog.Catalog, optional
        Item labels and sports flags; the bundled catalog by default. Items not in the
        catalog are labelled by their id.
    progress : bool
        Progress bars on stderr (only when it is a terminal).

    Returns
    -------
    AnalysisResult

    Raises
    ------
    ValueError
        For unreadable input (see :func:`segmentation.read_answers`) or a bad ``target``.
    """
    return analyze_frame(read_answers(path), out_dir, target=target, catalog=catalog, progress=progress)


def analyze_frame(
    frame: pd.DataFrame,
    out_dir: str | Path,
    target: str | None = None,
    catalog: Catalog | None = None,
    progress: bool = False,
) -> AnalysisResult:
    """The ``fanbot analyze`` pipeline on answers already in a DataFrame.

    ``frame`` has one row per respondent and one numeric column per item (NaN = not
    answered), as :func:`segmentation.read_answers` returns it or as the database
    loader builds it. Parameters and result as in :func:`analyze_file`.
    """
    if catalog is None:
        from data.catalog import load_catalog

        catalog = load_catalog()
    if target is not None and target not in frame.columns:
        raise ValueError(f"対象の項目 '{target}' が回答データの列にありません")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = catalog.labels
    counts = {item.id for item in catalog.items if item.answer_type == "count"}
    matrix = correlation_matrix(frame, progress=progress)
    pairs = pairs_table(matrix)
    files: dict[str, Path] = {"pairs": out / "pairs.csv"}
    pairs.to_csv(files["pairs"], index=False)
    r = matrix.frame()
    files["heatmap"] = plot_heatmap(r, out / "heatmap.png", labels=labels)
    images = {"全項目": files["heatmap"]}
    sports = catalog.sports_ids & set(r.columns)
    if sports and len(sports) < len(r.columns):
        files["heatmap_sports"] = plot_sports_heatmap(
            r, out / "heatmap_sports.png", sports=sports, labels=labels
        )
        images["スポーツ関連（縦）× スポーツ以外（横）"] = files["heatmap_sports"]
    evaluation = evaluate(frame, target, progress=progress) if target is not None else None
    files["report"] = write_report(
        out / "report.html",
        pairs,
        respondents=len(frame),
        n_items=frame.shape[1],
        images=images,
        labels=labels,
        counts=counts,
        evaluation=evaluation,
        sports=catalog.sports_ids & set(frame.columns),
    )
    return AnalysisResult(
        respondents=len(frame),
        items=frame.shape[1],
        pairs=pairs,
        significant=int((pairs["q"] < SIGNIFICANT_Q).sum()),
        files=files,
        evaluation=evaluation,
    )
