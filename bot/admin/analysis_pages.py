"""Analysis in the browser: run it in the background, then the heatmaps, the pairs table, downloads."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import pandas as pd
from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for

from bot.admin.auth import current_staff
from bot.admin.blueprint import bp
from bot.admin.heatmap_svg import SIGNIFICANT_Q, block_heatmap, category_overview, pair_lookup
from bot.analysis_runner import THREAD_EXTENSION, start_analysis_thread
from bot.app_context import get_catalog, get_settings, now
from bot.db import get_session
from bot.url_ids import parse_page
from data.analysis_jobs import expire_stale_jobs, latest_finished_job, latest_job, request_analysis
from data.catalog import CATEGORY_LABELS, Catalog
from data.models import AnalysisJob
from segmentation.correlation import BANDS

SPORTS, OTHER = "@sports", "@other"
GROUP_LABELS = {**CATEGORY_LABELS, SPORTS: "スポーツ関連の項目", OTHER: "スポーツ以外の項目"}
BAND_LABELS = {b.name: b.label_ja for b in BANDS}
DOWNLOADS = {
    "pairs.csv": ("text/csv", "相関の一覧（pairs.csv）"),
    "heatmap.png": ("image/png", "全項目のヒートマップ（PNG）"),
    "heatmap_sports.png": ("image/png", "スポーツ × スポーツ以外のヒートマップ（PNG）"),
    "report.html": ("text/html", "レポート（report.html）"),
}
PAIRS_PER_PAGE = 100
SORTS = {"abs_r": "|r|（強さ）", "r": "r", "n": "n（回答者数）", "q": "q"}


def _groups(catalog: Catalog) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for item in catalog.values():
        groups.setdefault(item.category, []).append(item.id)
    return groups


def _group_items(catalog: Catalog, group: str) -> list[str] | None:
    if group == SPORTS:
        return [item.id for item in catalog.values() if item.sports_related]
    if group == OTHER:
        return [item.id for item in catalog.values() if not item.sports_related]
    items = _groups(catalog).get(group)
    return items


@functools.lru_cache(maxsize=4)
def _load_pairs(path: str, modified: float) -> pd.DataFrame:
    return pd.read_csv(path)


def _pairs(job: AnalysisJob) -> pd.DataFrame:
    path = Path(job.out_dir) / "pairs.csv"
    if not path.is_file():
        abort(404, description="この分析の結果ファイルが見つかりません。もう一度分析を実行してください。")
    return _load_pairs(str(path), path.stat().st_mtime)


def _finished_job(job_id: int) -> AnalysisJob:
    job = get_session().get(AnalysisJob, job_id)
    if job is None or job.status != "done":
        abort(404, description="その分析結果は見つかりません。")
    return job


@bp.get("/analysis")
def analysis() -> Any:
    db = get_session()
    if expire_stale_jobs(db, now()):
        db.commit()
    current = latest_job(db)
    finished = latest_finished_job(db)
    context: dict[str, Any] = {"current": current, "finished": finished, "downloads": {}}
    if finished is not None:
        pairs = _pairs(finished)
        catalog = get_catalog()
        context["overview"] = category_overview(
            pairs,
            _groups(catalog),
            GROUP_LABELS,
            lambda a, b: url_for("admin.analysis_block", job_id=finished.id, rows=a, cols=b),
        )
        context["downloads"] = {
            name: label for name, (_, label) in DOWNLOADS.items() if (Path(finished.out_dir) / name).is_file()
        }
        context["top_pairs"] = _top_pairs(pairs, catalog)
    running = current is not None and current.status in ("queued", "running")
    return render_template("admin/analysis.html", running=running, bands=BANDS, **context)


def _top_pairs(pairs: pd.DataFrame, catalog: Catalog, top: int = 5) -> list[str]:
    from segmentation.report import pair_sentence

    counts = {item.id for item in catalog.values() if item.answer_type == "count"}
    significant = pairs[pairs["q"] < SIGNIFICANT_Q]
    strongest = significant.reindex(significant["r"].abs().sort_values(ascending=False).index).head(top)
    return [
        pair_sentence(str(a), str(b), float(r), int(n), catalog.labels, counts)
        for a, b, r, n in zip(
            strongest["item_a"], strongest["item_b"], strongest["r"], strongest["n"], strict=True
        )
    ]


@bp.post("/analysis/run")
def analysis_run() -> Any:
    db = get_session()
    staff = current_staff()
    job = request_analysis(db, requested_by=staff.display_name if staff else "", now=now())
    if job is None:
        db.rollback()
        flash("分析はすでに実行中です。終わるまでお待ちください。")
        return redirect(url_for("admin.analysis"))
    db.commit()
    start_analysis_thread(current_app._get_current_object(), job.id, root=get_settings().analysis_dir)  # type: ignore[attr-defined]
    flash("分析を始めました。このページを閉じても続きます。")
    return redirect(url_for("admin.analysis"))


@bp.get("/analysis/<id:job_id>/block")
def analysis_block(job_id: int) -> Any:
    job = _finished_job(job_id)
    catalog = get_catalog()
    rows_group, cols_group = request.args.get("rows", SPORTS), request.args.get("cols", OTHER)
    rows, cols = _group_items(catalog, rows_group), _group_items(catalog, cols_group)
    if rows is None or cols is None:
        abort(404, description="その分類は見つかりません。")
    pairs = _pairs(job)
    present = set(pairs["item_a"]) | set(pairs["item_b"])
    rows = [item for item in rows if item in present]
    cols = [item for item in cols if item in present]
    heatmap = block_heatmap(pair_lookup(pairs), rows, cols, catalog.labels, cell=14 if len(cols) > 60 else 22)
    return render_template(
        "admin/analysis_block.html",
        job=job,
        heatmap=heatmap,
        rows_group=rows_group,
        cols_group=cols_group,
        group_labels=GROUP_LABELS,
        groups=[*_groups(catalog), SPORTS, OTHER],
    )


@bp.get("/analysis/<id:job_id>/pairs")
def analysis_pairs(job_id: int) -> Any:
    job = _finished_job(job_id)
    catalog = get_catalog()
    labels = catalog.labels
    pairs = _pairs(job)
    args = request.args
    bands = [b for b in args.getlist("band") if b in BAND_LABELS]
    errors: list[str] = []
    q_max = _float_arg("q", 0.0, 1.0, errors, "q の上限は 0〜1 の数で入力してください。")
    n_min = _float_arg("n", 0, 10**9, errors, "n の下限は 0 以上の数で入力してください。")
    search = args.get("item", "").strip()
    sort = args.get("sort", "abs_r") if args.get("sort", "abs_r") in SORTS else "abs_r"
    descending = args.get("order", "desc") != "asc"
    page = parse_page(args.get("page"))
    if page is None:
        abort(400, description="ページ番号は 1 以上の半角数字で指定してください。")
    view = pairs
    if bands:
        view = view[view["band"].isin(bands)]
    if q_max is not None:
        view = view[view["q"] <= q_max]
    if n_min is not None:
        view = view[view["n"] >= n_min]
    if search:
        matching = {item_id for item_id, text in labels.items() if search in item_id or search in text}
        view = view[view["item_a"].isin(matching) | view["item_b"].isin(matching)]
    key = view["r"].abs() if sort == "abs_r" else view[sort]
    view = view.loc[key.sort_values(ascending=not descending, kind="stable").index]
    total = len(view)
    pages = max(1, math.ceil(total / PAIRS_PER_PAGE))
    if page > pages:
        abort(404, description=f"ページは {pages} ページまでです。")
    shown = view.iloc[(page - 1) * PAIRS_PER_PAGE : page * PAIRS_PER_PAGE]
    rows = [
        {
            "a": a,
            "b": b,
            "label_a": labels.get(a, a),
            "label_b": labels.get(b, b),
            "r": float(r),
            "n": int(n),
            "q": float(q),
            "band": BAND_LABELS.get(str(band_name), str(band_name)),
            "ci_low": float(row_ci[0]) if row_ci is not None else None,
            "ci_high": float(row_ci[1]) if row_ci is not None else None,
        }
        for a, b, r, n, q, band_name, row_ci in zip(
            shown["item_a"],
            shown["item_b"],
            shown["r"],
            shown["n"],
            shown["q"],
            shown["band"],
            _intervals(shown),
            strict=True,
        )
    ]
    return render_template(
        "admin/analysis_pairs.html",
        job=job,
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        bands=bands,
        band_labels=BAND_LABELS,
        sorts=SORTS,
        sort=sort,
        descending=descending,
        search=search,
        q_max=args.get("q", ""),
        n_min=args.get("n", ""),
        errors=errors,
        significant_q=SIGNIFICANT_Q,
        campaign_endpoint="admin.campaign_new"
        if "admin.campaign_new" in current_app.view_functions
        else None,
    ), 400 if errors else 200


def _intervals(frame: pd.DataFrame) -> list[tuple[float, float] | None]:
    if "ci_low" not in frame.columns or "ci_high" not in frame.columns:
        return [None] * len(frame)
    return [
        None if (math.isnan(low) or math.isnan(high)) else (low, high)
        for low, high in zip(frame["ci_low"].astype(float), frame["ci_high"].astype(float), strict=True)
    ]


def _float_arg(name: str, low: float, high: float, errors: list[str], message: str) -> float | None:
    raw = request.args.get(name, "").strip()
    if raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        errors.append(message)
        return None
    if not (low <= value <= high) or math.isnan(value):
        errors.append(message)
        return None
    return value


@bp.get("/analysis/<id:job_id>/files/<name>")
def analysis_file(job_id: int, name: str) -> Any:
    job = _finished_job(job_id)
    if name not in DOWNLOADS:
        abort(404, description="そのファイルはありません。")
    path = Path(job.out_dir).resolve() / name
    if not path.is_file():
        abort(404, description="そのファイルはありません。")
    mimetype, _ = DOWNLOADS[name]
    # Only the PNGs are shown in the page; report.html is a download (its own inline styles would
    # need a weaker page policy).
    inline = mimetype == "image/png" and request.args.get("inline") == "1"
    return send_file(
        path, mimetype=mimetype, as_attachment=not inline, download_name=f"analysis-{job_id}-{name}"
    )


__all__ = ["THREAD_EXTENSION"]
