"""Reports a partner believes: per campaign and per shop, on screen, as CSV and as a printable page."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from flask import Response, abort, render_template, request
from sqlalchemy import select

from bot.admin.blueprint import bp
from bot.db import get_session
from bot.url_ids import parse_page
from coupons.models import Campaign, Partner
from coupons.reports import MAX_WINDOW_DAYS, CampaignReport, campaign_report, partner_reports
from coupons.uplift import METHOD_JA, uplift_sentence

DEFAULT_WINDOW_DAYS = 7
CSV_COLUMNS = (
    "campaign_id",
    "campaign",
    "shop",
    "issued",
    "sent",
    "redeemed",
    "window_days",
    "targeted",
    "targeted_visitors",
    "targeted_rate",
    "holdout",
    "holdout_visitors",
    "holdout_rate",
    "difference",
    "ci_low",
    "ci_high",
    "method",
)


def _window_days() -> int:
    days = parse_page(request.args.get("days") or str(DEFAULT_WINDOW_DAYS), limit=MAX_WINDOW_DAYS)
    if days is None:
        abort(400, description=f"日数は 1〜{MAX_WINDOW_DAYS} の半角数字で指定してください。")
    return days


@bp.get("/campaigns")
def campaigns() -> Any:
    rows = (
        get_session()
        .execute(
            select(Campaign, Partner.name)
            .join(Partner, Partner.id == Campaign.partner_id)
            .order_by(Campaign.id.desc())
        )
        .all()
    )
    return render_template("admin/campaigns.html", rows=rows)


@bp.get("/campaigns/<id:campaign_id>/report")
def campaign_report_page(campaign_id: int) -> Any:
    days = _window_days()
    report = campaign_report(get_session(), campaign_id, days)
    if report is None:
        abort(404, description="そのキャンペーンは見つかりません。")
    return render_template(
        "admin/report.html",
        per_shop=False,
        reports=[report],
        title=report.title,
        subject=report.partner_name,
        days=days,
        sentence=uplift_sentence,
        method=METHOD_JA,
        csv_url=request.path + ".csv",
        max_days=MAX_WINDOW_DAYS,
    )


@bp.get("/partners/<id:partner_id>/report")
def partner_report_page(partner_id: int) -> Any:
    partner = get_session().get(Partner, partner_id)
    if partner is None:
        abort(404, description="その店舗は見つかりません。")
    days = _window_days()
    reports = partner_reports(get_session(), partner_id, days)
    return render_template(
        "admin/report.html",
        per_shop=True,
        reports=reports,
        title=f"{partner.name} のレポート",
        subject=partner.name,
        days=days,
        sentence=uplift_sentence,
        method=METHOD_JA,
        csv_url=request.path + ".csv",
        max_days=MAX_WINDOW_DAYS,
    )


def _csv(reports: list[CampaignReport], name: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for report in reports:
        up = report.uplift
        low, high = up.interval

        def number(value: float) -> str:
            return "" if math.isnan(value) else f"{value:.4f}"

        writer.writerow(
            [
                report.campaign_id,
                report.title,
                report.partner_name,
                report.issued,
                report.sent,
                report.redeemed,
                report.window_days,
                up.targeted,
                up.targeted_visitors,
                number(up.targeted_rate),
                up.holdout,
                up.holdout_visitors,
                number(up.holdout_rate),
                number(up.difference),
                number(low),
                number(high),
                "newcombe-hybrid-score",
            ]
        )
    # Excel opens UTF-8 CSV with Japanese text correctly only with a BOM.
    return Response(
        "\ufeff" + buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/campaigns/<id:campaign_id>/report.csv")
def campaign_report_csv(campaign_id: int) -> Any:
    report = campaign_report(get_session(), campaign_id, _window_days())
    if report is None:
        abort(404, description="そのキャンペーンは見つかりません。")
    return _csv([report], f"campaign-{campaign_id}-report.csv")


@bp.get("/partners/<id:partner_id>/report.csv")
def partner_report_csv(partner_id: int) -> Any:
    if get_session().get(Partner, partner_id) is None:
        abort(404, description="その店舗は見つかりません。")
    return _csv(partner_reports(get_session(), partner_id, _window_days()), f"shop-{partner_id}-report.csv")
