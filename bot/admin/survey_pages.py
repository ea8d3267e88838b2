"""The survey page: the catalog with coverage and yes share, items on or off and their priority,
and importing an answer file with a preview before anything is stored."""

from __future__ import annotations

import re
import secrets
import tempfile
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from sqlalchemy import distinct, func, select

from bot.admin.blueprint import bp
from bot.app_context import get_catalog, now
from bot.db import get_session
from data.answer_import import AnswerFileError, import_answers, read_answer_file
from data.catalog import CATEGORY_LABELS
from data.models import Answer
from data.survey_settings import MAX_PRIORITY, item_settings, save_item_setting
from data.survey_stats import item_stats
from data.units import format_mean

UPLOAD_SUFFIXES = (".csv", ".xlsx")
PREVIEW_ROWS = 10
UPLOAD_SESSION_KEY = "answer_upload"


def _respondents() -> int:  # people with at least one answer
    return int(get_session().scalar(select(func.count(distinct(Answer.fan_id)))) or 0)


def _parse_priority(raw: str) -> tuple[int | None, str | None]:
    text = unicodedata.normalize("NFKC", raw).strip()
    if text == "":
        return None, None
    if not (text.isascii() and text.isdigit()) or len(text) > 3 or not 1 <= int(text) <= MAX_PRIORITY:
        return None, f"優先度は 1〜{MAX_PRIORITY} の数字で入力してください（空欄は優先なし）。"
    return int(text), None


@bp.get("/survey")
def survey() -> Any:
    return _render_survey({})


def _render_survey(errors: dict[str, str], status: int = 200) -> Any:
    catalog = get_catalog()
    db = get_session()
    stats = item_stats(db, catalog)
    settings = item_settings(db)
    respondents = _respondents()
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for stat in stats:
        item = catalog[stat.item_id]
        setting = settings.get(stat.item_id)
        groups[item.category].append(
            {
                "stat": stat,
                "item": item,
                "coverage": stat.answered / respondents if respondents else None,
                "enabled": setting.enabled if setting else True,
                "priority": request.form.get(f"priority-{stat.item_id}")
                if errors
                else (setting.priority if setting and setting.priority is not None else ""),
                "error": errors.get(stat.item_id),
            }
        )
    return render_template(
        "admin/survey.html",
        groups=groups,
        category_labels=CATEGORY_LABELS,
        format_mean=format_mean,
        respondents=respondents,
        errors=errors,
    ), status


@bp.post("/survey")
def survey_save() -> Any:
    catalog = get_catalog()
    errors: dict[str, str] = {}
    chosen: dict[str, tuple[bool, int | None]] = {}
    for item_id in catalog:
        priority, error = _parse_priority(request.form.get(f"priority-{item_id}", ""))
        if error:
            errors[item_id] = error
        chosen[item_id] = (request.form.get(f"enabled-{item_id}") == "1", priority)
    if errors:
        flash(f"{len(errors)}件の入力に誤りがあります。赤字の行を直してください。何も保存していません。")
        return _render_survey(errors, 400)
    db = get_session()
    saved_at = now()
    current = item_settings(db)
    changed = 0
    for item_id, (enabled, priority) in chosen.items():
        before = current.get(item_id)
        if before is None and enabled and priority is None:
            continue
        if before is not None and before.enabled == enabled and before.priority == priority:
            continue
        save_item_setting(db, item_id, enabled=enabled, priority=priority, now=saved_at)
        changed += 1
    db.commit()
    flash(f"出題設定を保存しました（{changed}問を変更）。")
    return redirect(url_for("admin.survey"))


# -- importing an answer file: upload, preview (nothing stored), confirm --------------------------

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
_ERROR_SHAPE = re.compile(r"^(?P<row>\d+)行目 (?P<column>[A-Z]+列（[^）]*）): (?P<reason>.*)$")


def _upload_dir() -> Path:
    folder = Path(tempfile.gettempdir()) / "fanbot-uploads"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _stored_upload(token: str) -> Path | None:
    pending = session.get(UPLOAD_SESSION_KEY)
    if not isinstance(pending, dict) or pending.get("token") != token:
        return None
    path = _upload_dir() / f"{token}{pending.get('suffix', '')}"
    return path if path.is_file() else None


def _error_rows(errors: list[str]) -> list[dict[str, str]]:
    rows = []
    for error in errors:
        match = _ERROR_SHAPE.match(error)
        if match:
            rows.append({"row": match["row"], "column": match["column"], "reason": match["reason"]})
        else:
            rows.append({"row": "", "column": "", "reason": error})
    return rows


def _dry_run(path: Path, *, skip_bad_rows: bool) -> tuple[Any, Any]:
    """Read the file and check it as the import would, writing nothing (``store=False``); the
    read transaction ends after each chunk, so a preview never holds the database for long."""
    frame = read_answer_file(path)
    db = get_session()
    try:
        report = import_answers(
            db,
            frame,
            get_catalog(),
            skip_bad_rows=skip_bad_rows,
            now=now(),
            store=False,
            after_chunk=db.rollback,
        )
    finally:
        db.rollback()
    return frame, report


@bp.get("/survey/import")
def survey_import() -> Any:
    return render_template("admin/survey_import.html", preview=None)


@bp.post("/survey/import")
def survey_import_preview() -> Any:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("取り込むファイルを選んでください。")
        return render_template("admin/survey_import.html", preview=None), 400
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        flash("CSV（.csv）かExcel（.xlsx）のファイルを選んでください。")
        return render_template("admin/survey_import.html", preview=None), 400
    token = secrets.token_urlsafe(16)
    path = _upload_dir() / f"{token}{suffix}"
    upload.save(path)
    if path.stat().st_size > MAX_UPLOAD_BYTES:
        path.unlink()
        flash(
            f"ファイルが大きすぎます（{MAX_UPLOAD_BYTES // 1024 // 1024}MBまで）。分けて取り込んでください。"
        )
        return render_template("admin/survey_import.html", preview=None), 400
    try:
        frame, report = _dry_run(path, skip_bad_rows=False)
    except AnswerFileError as error:
        path.unlink()
        flash(str(error))
        return render_template("admin/survey_import.html", preview=None), 400
    _, skipping = _dry_run(path, skip_bad_rows=True) if report.errors else (frame, report)
    session[UPLOAD_SESSION_KEY] = {"token": token, "suffix": suffix, "name": upload.filename}
    preview = {
        "token": token,
        "name": upload.filename,
        "columns": [str(column) for column in frame.columns],
        "rows": [
            (int(number), [str(cell) for cell in row]) for number, row in frame.head(PREVIEW_ROWS).iterrows()
        ],
        "report": report,
        "errors": _error_rows(report.errors),
        "skipping": skipping,
    }
    return render_template("admin/survey_import.html", preview=preview), 200 if report.ok else 422


@bp.post("/survey/import/confirm")
def survey_import_confirm() -> Any:
    token = request.form.get("token", "")
    path = _stored_upload(token)
    if path is None:
        flash("取り込むファイルが見つかりません。もう一度アップロードしてください。")
        return redirect(url_for("admin.survey_import"))
    skip_bad_rows = request.form.get("skip_bad_rows") == "1"
    try:
        frame = read_answer_file(path)
    except AnswerFileError as error:
        flash(str(error))
        return redirect(url_for("admin.survey_import"))
    db = get_session()
    # On SQLite, commit per chunk: one long write transaction would stall every webhook.
    commit = db.commit if db.get_bind().dialect.name == "sqlite" else None
    report = import_answers(
        db, frame, get_catalog(), skip_bad_rows=skip_bad_rows, now=now(), after_chunk=commit
    )
    if not report.ok:
        db.rollback()
        flash("ファイルに誤りがあるため、何も取り込みませんでした。")
        return redirect(url_for("admin.survey_import"))
    db.commit()
    path.unlink(missing_ok=True)
    session.pop(UPLOAD_SESSION_KEY, None)
    updated = report.respondents_updated + report.line_fans_updated
    skipped = f"、飛ばした行 {len(report.skipped_rows)}行" if report.skipped_rows else ""
    flash(
        f"{report.answers_stored:,}件の回答を取り込みました"
        f"（新しい回答者 {report.respondents_created:,}人、更新 {updated:,}人{skipped}）。"
    )
    return redirect(url_for("admin.survey"))
