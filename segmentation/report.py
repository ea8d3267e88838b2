"""The marketer's report (self-contained HTML) and the whole ``fanbot analyze`` run.

Everything a marketer reads here is Japanese; images are embedded as base64 data URIs so
the page opens offline and can be mailed as one file.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from data.answer_file import read_answers
from segmentation.correlation import (
    BAND_TOLERANCE,
    BANDS,
    Method,
    band,
    correlation_matrices,
    pairs_table,
)
from segmentation.heatmap import plot_heatmap, plot_sports_heatmap
from segmentation.lookalike import Evaluation, evaluate, fit

if TYPE_CHECKING:
    from data.catalog import Catalog

__all__ = [
    "AnalysisResult",
    "TargetSummary",
    "analyze_file",
    "band_span_ja",
    "display_r",
    "lookalike_summary",
    "pair_sentence",
    "write_report",
]

SIGNIFICANT_Q = 0.05
BAND_JA = {b.name: b.label_ja for b in BANDS}
_BAND_SHORT_JA = {"strong": "強い", "moderate": "中程度", "weak": "弱い", "none": "ほぼなし"}
CATEGORY_JA = {
    "spectating": "観戦",
    "sports_interest": "スポーツへの関心",
    "fandom_media": "ファン活動・メディア",
    "exercise": "運動",
    "leisure_outdoor": "レジャー・アウトドア",
    "food_drink": "食事・飲み物",
    "entertainment": "娯楽",
    "shopping_payment": "買い物・支払い",
    "digital_media": "デジタル・メディア",
    "lifestyle_values": "暮らし・価値観",
    "pets": "ペット",
}
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
    # A noun phrase ("試合を現地で観る回数") reads as it is; a question text ("現地でみる
    # 頻度は？") can only be quoted.
    if text.endswith(("？", "?", "は", "か", "）", ")")):
        return f"「{text.rstrip('？?。 ')}」の回答が"
    return f"{text}が"


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
    return f"{subject}は、{predicate}傾向があります（r={display_r(r)}, 回答者 {n:,}人）"


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


def display_r(r: float) -> str:
    """r with two decimals, cut towards zero so the shown value never sits in another band.

    Rounding would show 0.4996 as "0.50" beside 弱い相関 (its band); cutting shows "0.49".
    The cut forgives the same 1e-9 as the bands, so an exact 0.3 that arithmetic left at
    0.29999999999999977 reads "0.30", in the band it is in.
    """
    if math.isnan(r):
        return "—"
    magnitude = math.floor((abs(r) + BAND_TOLERANCE) * 100) / 100
    return f"{'-' if r < 0 and magnitude > 0 else ''}{magnitude:.2f}"


def band_span_ja(low: float, high: float) -> str:
    """The bands a 95 % interval of r covers, in plain words ("弱い〜中程度")."""
    if math.isnan(low) or math.isnan(high):
        return "—"
    weakest = 0.0 if low <= 0 <= high else min(abs(low), abs(high))
    strongest = max(abs(low), abs(high))
    first, last = _BAND_SHORT_JA[band(weakest)], _BAND_SHORT_JA[band(strongest)]
    return first if first == last else f"{first}〜{last}"


def _pair_rows(
    table: pd.DataFrame,
    labels: Mapping[str, str],
    counts: Collection[str],
    phrases: Mapping[str, str] | None = None,
) -> list[dict[str, str]]:
    rows = []
    for row in table.to_dict("records"):
        a, b, r, n = str(row["item_a"]), str(row["item_b"]), float(row["r"]), int(row["n"])
        low, high = float(row.get("ci_low", math.nan)), float(row.get("ci_high", math.nan))
        rank_r = float(row.get("rank_r", math.nan))
        note = ""
        if bool(row.get("rank_band_differs", False)):
            note = (
                f"順位相関では {display_r(rank_r)}（{BAND_JA[band(rank_r)]}）："
                "一部の極端な回答に左右されている可能性があります"
            )
        rows.append(
            {
                "a": labels.get(a, a),
                "b": labels.get(b, b),
                "r": display_r(r),
                "n": f"{n:,}",
                "band": BAND_JA[str(row["band"])],
                "interval": "—" if math.isnan(low) else f"{display_r(low)}〜{display_r(high)}",
                "span": band_span_ja(low, high),
                "q": f"{float(row['q']):.2g}",
                "sentence": pair_sentence(a, b, r, n, phrases or labels, counts),
                "rank_note": note,
            }
        )
    return rows


@dataclass(frozen=True)
class TargetSummary:
    """What the report says about a lookalike target: quality and the items behind scores.

    Attributes
    ----------
    evaluation : Evaluation
        Cross-validated quality.
    predictors : list of (item, direction)
        Items the model fitted on every labelled fan uses, strongest first; direction
        ``+1`` when answering more / yes raises the score, ``-1`` when it lowers it.
    """

    evaluation: Evaluation
    predictors: list[tuple[str, int]]


def lookalike_summary(evaluation: Evaluation, labels: Mapping[str, str]) -> str:
    """One or two plain Japanese sentences on how well a target can be scored."""
    name = labels.get(evaluation.target, evaluation.target)
    if not evaluation.can_rank:
        return (
            f"「{name}」を予測できる項目は見つかりませんでした（交差検証 {evaluation.n:,} 人）。"
            "どのファンも同じスコアになるため、AUC やリフトで順位付けの良さを示すことはできません。"
        )
    lift = "—" if math.isnan(evaluation.lift_at_20) else f"{evaluation.lift_at_20:.2f} 倍"
    return (
        f"「{name}」の似たファン探し（交差検証 {evaluation.n:,} 人）: "
        f"AUC {evaluation.auc:.3f}、上位 20% のリフト {lift}"
    )


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("segmentation", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


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
    target: TargetSummary | None = None,
    full_heatmap: str | None = None,
    phrases: Mapping[str, str] | None = None,
) -> Path:
    """Write the self-contained Japanese HTML report (Jinja2, autoescaped).

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
        Lookalike quality to show (``target`` supersedes it when both are given).
    top : int
        Rows in the strongest-pairs table.
    sports : collection of str
        Sports items; when given, a second table lists the strongest sports × non-sports
        pairs, the partner-offer question ("fans who go to games also go to ...").
    target : TargetSummary, optional
        The lookalike target's section: quality, predictors with direction, reading aid.
    full_heatmap : str, optional
        Relative link to the full heatmap PNG written next to the report.
    phrases : mapping, optional
        Item id -> what a sentence calls the item (``Catalog.phrases``); ``labels`` by default.

    Returns
    -------
    pathlib.Path
    """
    labels = labels or {}
    strongest = strongest_pairs(pairs, top)
    cross_rows: list[dict[str, str]] | None = None
    if sports:
        sports = set(sports)
        is_a, is_b = pairs["item_a"].isin(sports), pairs["item_b"].isin(sports)
        # Orient every cross pair as sports item first, the way the sentence reads.
        cross = pairs[is_a != is_b].copy()
        flip = cross["item_b"].isin(sports)
        cross.loc[flip, ["item_a", "item_b"]] = cross.loc[flip, ["item_b", "item_a"]].to_numpy()
        cross_rows = _pair_rows(strongest_pairs(cross, 20), labels, counts, phrases)
    significant = pairs[pairs["q"] < SIGNIFICANT_Q]
    strong_sig = significant[significant["r"].abs() >= 0.3 - BAND_TOLERANCE]
    crossing = 0
    if "ci_low" in pairs.columns:
        spans = [
            band_span_ja(lo, hi) for lo, hi in zip(strong_sig["ci_low"], strong_sig["ci_high"], strict=True)
        ]
        crossing = sum("〜" in span for span in spans)
    flagged = int(pairs["rank_band_differs"].sum()) if "rank_band_differs" in pairs.columns else 0
    if evaluation is not None and target is None:
        target = TargetSummary(evaluation, [])
    page = (
        _environment()
        .get_template("report.html")
        .render(
            respondents=f"{respondents:,}",
            items=f"{n_items:,}",
            pairs=f"{len(pairs):,}",
            significant=f"{len(significant):,}",
            weak_significant=f"{int((significant['band'] == 'none').sum()):,}",
            crossing=f"{crossing:,}",
            strong_significant=f"{len(strong_sig):,}",
            rank_flagged=flagged,
            bands=BANDS,
            short_names=_BAND_SHORT_JA,
            top=len(strongest),
            rows=_pair_rows(strongest, labels, counts, phrases),
            cross_rows=cross_rows,
            target=_target_context(target, labels),
            images=[(caption, _data_uri(p)) for caption, p in images.items()],
            full_heatmap=full_heatmap,
        )
    )
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out


def _target_context(target: TargetSummary | None, labels: Mapping[str, str]) -> dict[str, object] | None:
    if target is None:
        return None
    ev = target.evaluation
    return {
        "name": labels.get(ev.target, ev.target),
        "n": f"{ev.n:,}",
        "positives": f"{ev.n_positive:,}",
        "can_rank": ev.can_rank,
        "auc": f"{ev.auc:.3f}",
        "lift": "—" if math.isnan(ev.lift_at_20) else f"{ev.lift_at_20:.2f}",
        "summary": lookalike_summary(ev, labels),
        "predictors": [
            {"label": labels.get(item, item), "direction": "高める" if sign > 0 else "下げる"}
            for item, sign in target.predictors
        ],
    }


def analyze_file(
    path: str | Path,
    out_dir: str | Path,
    target: str | None = None,
    catalog: Catalog | None = None,
    progress: bool = False,
    method: Method = "pearson",
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
    method : {"pearson", "spearman"}
        Coefficient of the table and heatmaps (see :func:`segmentation.correlate`).

    Returns
    -------
    AnalysisResult

    Raises
    ------
    ValueError
        For unreadable input (see :func:`data.answer_file.read_answers`: values of catalog
        items are checked against the catalog, counts against their maximum) or a bad
        ``target``.
    """
    if catalog is None:
        from data.catalog import load_catalog

        catalog = load_catalog()
    return analyze_frame(
        read_answers(path, catalog), out_dir, target=target, catalog=catalog, progress=progress, method=method
    )


def analyze_frame(
    frame: pd.DataFrame,
    out_dir: str | Path,
    target: str | None = None,
    catalog: Catalog | None = None,
    progress: bool = False,
    method: Method = "pearson",
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
    matrix, rank_matrix = correlation_matrices(frame, progress=progress)
    if method == "spearman":
        matrix = rank_matrix
        pairs = pairs_table(matrix, rank_matrix=rank_matrix, rank=True)
    else:
        pairs = pairs_table(matrix, rank_matrix=rank_matrix)
    files: dict[str, Path] = {"pairs": out / "pairs.csv"}
    pairs.to_csv(files["pairs"], index=False)
    r = matrix.frame()
    muted = _not_significant(pairs, r)
    files["heatmap"] = plot_heatmap(r, out / "heatmap.png", labels=labels, muted=muted)
    images: dict[str, Path] = {}
    sports = catalog.sports_ids & set(r.columns)
    if sports and len(sports) < len(r.columns):
        files["heatmap_sports"] = plot_sports_heatmap(
            r, out / "heatmap_sports.png", sports=sports, labels=labels, muted=muted
        )
        images["スポーツ関連（縦）× スポーツ以外（横）"] = files["heatmap_sports"]
    for category, items in _categories(catalog, list(r.columns)):
        figure = _category_heatmap(r, muted, items, category, out, labels)
        if figure is not None:
            files[f"heatmap_{category}"] = figure
            images[f"{CATEGORY_JA.get(category, category)}の項目と、関係の強い項目"] = figure
    if not images:
        images["全項目"] = files["heatmap"]
    evaluation = None
    summary = None
    if target is not None:
        evaluation = evaluate(frame, target, progress=progress)
        summary = _target_summary(frame, target, evaluation)
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
        target=summary,
        full_heatmap=files["heatmap"].name,
        phrases=catalog.phrases,
    )
    return AnalysisResult(
        respondents=len(frame),
        items=frame.shape[1],
        pairs=pairs,
        significant=int((pairs["q"] < SIGNIFICANT_Q).sum()),
        files=files,
        evaluation=evaluation,
    )


def _not_significant(pairs: pd.DataFrame, r: pd.DataFrame) -> pd.DataFrame:
    """Square booleans: True where a pair is not significant (q ≥ 0.05 or no q)."""
    items = list(r.columns)
    position = {item: i for i, item in enumerate(items)}
    fade = np.ones((len(items), len(items)), dtype=bool)
    sig = pairs[pairs["q"] < SIGNIFICANT_Q]
    ia = sig["item_a"].map(position).to_numpy(dtype=np.intp)
    ib = sig["item_b"].map(position).to_numpy(dtype=np.intp)
    fade[ia, ib] = False
    fade[ib, ia] = False
    np.fill_diagonal(fade, False)
    return pd.DataFrame(fade, index=items, columns=items)


def _categories(catalog: Catalog, items: list[str]) -> list[tuple[str, list[str]]]:
    present = set(items)
    grouped: dict[str, list[str]] = {}
    for item in catalog.items:
        if item.id in present:
            grouped.setdefault(item.category, []).append(item.id)
    return list(grouped.items())


def _category_heatmap(
    r: pd.DataFrame,
    muted: pd.DataFrame,
    rows: list[str],
    category: str,
    out: Path,
    labels: Mapping[str, str],
    max_columns: int = 40,
) -> Path | None:
    """A readable slice: one category's items × the items most related to them.

    Columns are items outside the category with at least one significant pair of at
    least weak strength with a row item, strongest first, at most ``max_columns``.
    """
    others = [c for c in r.columns if c not in rows]
    if not others:
        return None
    block = r.loc[rows, others].abs().where(~muted.loc[rows, others])
    strength = block.max(axis=0)
    strength = strength[strength >= 0.3 - BAND_TOLERANCE].sort_values(ascending=False)
    if strength.empty:
        return None
    columns = [str(c) for c in strength.index[:max_columns]]
    title = f"{CATEGORY_JA.get(category, category)} × 関係の強い項目"
    return plot_heatmap(
        r.loc[rows, columns], out / f"heatmap_{category}.png", labels=labels, title=title, muted=muted
    )


def _target_summary(frame: pd.DataFrame, target: str, evaluation: Evaluation) -> TargetSummary:
    model = fit(frame, target)
    weights = model.coef_value.abs().sort_values(ascending=False)
    predictors = [(str(item), 1 if float(model.coef_value[item]) > 0 else -1) for item in weights.index[:10]]
    return TargetSummary(evaluation, predictors)
