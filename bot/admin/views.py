"""Admin pages: sign-in and sign-out, dashboard, fans, survey answers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user

from bot.admin.auth import StaffPrincipal, current_staff, safe_next
from bot.admin.blueprint import bp
from bot.admin.charts import daily_bar_chart
from bot.app_context import get_catalog, get_settings, now
from bot.db import get_session
from bot.limiter import (
    SIGN_IN_LIMITS_PER_ACCOUNT,
    SIGN_IN_LIMITS_PER_ADDRESS,
    failed_sign_in,
    limiter,
    submitted_email,
)
from bot.url_ids import parse_page
from coupons.campaigns import STATE_LABELS as CAMPAIGN_STATE_LABELS
from coupons.reports import coupons_since
from coupons.sends import game_sends
from data.answer_activity import answers_per_day
from data.fan_overview import MAX_QUERY_LENGTH, delivery_status, fan_answers, fan_counts, list_fans
from data.games import next_game
from data.models import Fan
from data.staff import end_sessions, find_login, password_matches, record_login
from data.survey_coverage import survey_coverage
from data.units import format_answer

TOKYO = ZoneInfo("Asia/Tokyo")
PER_PAGE = 50
DASHBOARD_DAYS = 30


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(SIGN_IN_LIMITS_PER_ADDRESS, methods=["POST"], deduct_when=failed_sign_in)
@limiter.limit(
    SIGN_IN_LIMITS_PER_ACCOUNT, key_func=submitted_email, methods=["POST"], deduct_when=failed_sign_in
)
def login() -> Any:
    error = None
    if request.method == "POST":
        db = get_session()
        login = find_login(db, request.form.get("email", ""))
        # End the read before scrypt: on SQLite it holds the write lock that webhooks wait for.
        db.rollback()
        if password_matches(login, request.form.get("password", "")):
            assert login is not None
            user = record_login(db, login.user_id, now=now())
            principal = StaffPrincipal(user)
            db.commit()
            session.clear()  # nothing from before sign-in survives it (session fixation)
            login_user(principal)
            return redirect(safe_next(request.args.get("next"), url_for("admin.dashboard")))
        error = "メールアドレスかパスワードが違います。"
    return render_template("admin/login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout() -> Any:
    staff = current_staff()
    if staff is not None:
        db = get_session()
        end_sessions(db, staff.id)
        db.commit()
    logout_user()
    session.clear()
    flash("ログアウトしました。")
    return redirect(url_for("admin.login"))


@bp.get("/")
def dashboard() -> Any:
    db = get_session()
    at = now()
    counts = fan_counts(db, at, get_settings().consent_version)
    chart = daily_bar_chart(answers_per_day(db, at, days=DASHBOARD_DAYS))
    # The week as the team reads it: from Monday 0:00 in Japan.
    local = at.astimezone(TOKYO)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    issued, redeemed = coupons_since(db, monday)
    game = next_game(db, at)
    sends = None
    if game is not None:
        sends = game_sends(db, game, catalog=get_catalog(), consent_version=get_settings().consent_version)
    return render_template(
        "admin/dashboard.html",
        coupons_issued=issued,
        coupons_redeemed=redeemed,
        counts=counts,
        chart=chart,
        coverage=survey_coverage(db, get_catalog()),
        next_game=game,
        sends=sends,
        at=at,
        campaign_labels=CAMPAIGN_STATE_LABELS,
    )


# The fan list's filters (`data.fan_overview.FILTERS`), as the marketer reads them.
FAN_FILTERS = {
    "line": "LINE",
    "reachable": "配信できる",
    "import": "インポート",
    "demo": "デモ",
    "deleted": "削除済み",
}
DELIVERY_LABELS = {
    "reachable": "受け取る",
    "opted_out": "停止中",
    "blocked": "ブロック中",
    "no_consent": "同意なし",
    "deleted": "—",
    "anonymous": "—",
}


@bp.get("/fans")
def fans() -> Any:
    source = request.args.get("source") or None
    if source is not None and source not in FAN_FILTERS:
        abort(400, description="不明な種別です。")
    query = request.args.get("q", "").strip()
    if len(query) > MAX_QUERY_LENGTH:
        abort(400, description=f"検索語は{MAX_QUERY_LENGTH}文字までにしてください。")
    page_number = parse_page(request.args.get("page"))
    if page_number is None:
        abort(400, description="ページ番号は 1 以上の半角数字で指定してください。")
    rows, total = list_fans(
        get_session(),
        source=source,
        page=page_number,
        per_page=PER_PAGE,
        consent_version=get_settings().consent_version,
        query=query,
    )
    pages = max(1, -(-total // PER_PAGE))
    if page_number > pages:
        abort(404, description=f"ページは {pages} ページまでです。")
    return render_template(
        "admin/fans.html",
        rows=rows,
        total=total,
        page=page_number,
        pages=pages,
        source=source,
        query=query,
        filters=FAN_FILTERS,
        delivery_labels=DELIVERY_LABELS,
    )


@bp.get("/fans/<id:fan_id>")
def fan_detail(fan_id: int) -> Any:
    db = get_session()
    fan = db.get(Fan, fan_id)
    if fan is None:
        abort(404, description="そのファンは見つかりません。")
    return render_template(
        "admin/fan.html",
        fan=fan,
        answers=fan_answers(db, fan_id),
        catalog=get_catalog(),
        delivery=DELIVERY_LABELS[delivery_status(fan, get_settings().consent_version)],
        format_answer=format_answer,
    )
