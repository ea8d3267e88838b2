"""Admin pages: sign-in, dashboard, fans, survey answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for

from bot.admin.auth import check_csrf, csrf_token, current_staff, login_required
from bot.app_context import clock, get_catalog, get_settings
from bot.db import get_session
from data.fan_overview import fan_answers, fan_counts, list_fans
from data.models import Fan
from data.staff import authenticate
from data.survey_stats import item_stats

bp = Blueprint("admin", __name__, url_prefix="/admin")

TOKYO = ZoneInfo("Asia/Tokyo")
SOURCES = {"line": "LINE", "import": "インポート", "demo": "デモ"}
PER_PAGE = 50


@bp.app_template_filter("jst")
def jst(value: datetime | None) -> str:
    return value.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M") if value is not None else "—"


@bp.app_context_processor
def inject() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "current_staff": current_staff, "sources": SOURCES}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        check_csrf()
        db = get_session()
        user = authenticate(
            db, request.form.get("email", ""), request.form.get("password", ""), now=clock()()
        )
        if user is None:
            error = "メールアドレスかパスワードが違います。"
        else:
            db.commit()
            session.clear()
            session["staff_id"] = user.id
            target = request.args.get("next", "")
            # Only same-site paths: an absolute URL here would make the login page an open redirect.
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("admin.dashboard")
            return redirect(target)
    return render_template("admin/login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout() -> Any:
    check_csrf()
    session.clear()
    flash("ログアウトしました。")
    return redirect(url_for("admin.login"))


@bp.get("/")
@login_required
def dashboard() -> Any:
    counts = fan_counts(get_session(), clock()(), get_settings().consent_version)
    return render_template("admin/dashboard.html", counts=counts)


@bp.get("/fans")
@login_required
def fans() -> Any:
    source = request.args.get("source") or None
    if source is not None and source not in SOURCES:
        abort(400, description="不明な種別です。")
    page = request.args.get("page", "1")
    page_number = int(page) if page.isdigit() and int(page) > 0 else 1
    rows, total = list_fans(get_session(), source=source, page=page_number, per_page=PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    return render_template(
        "admin/fans.html", rows=rows, total=total, page=page_number, pages=pages, source=source
    )


@bp.get("/fans/<int:fan_id>")
@login_required
def fan_detail(fan_id: int) -> Any:
    db = get_session()
    fan = db.get(Fan, fan_id)
    if fan is None:
        abort(404, description="そのファンは見つかりません。")
    return render_template("admin/fan.html", fan=fan, answers=fan_answers(db, fan_id), catalog=get_catalog())


@bp.get("/survey")
@login_required
def survey() -> Any:
    stats = item_stats(get_session(), get_catalog())
    return render_template("admin/survey.html", stats=stats)
