"""Partner shops in the admin pages: list and edit, the check-in QR card, the staff access-code card."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import segno
from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from bot.admin.auth import admin_required
from bot.admin.blueprint import bp
from bot.app_context import get_line_client, get_settings, now
from bot.db import get_session
from bot.line_client import LineApiError
from coupons.models import Partner
from coupons.partners import PartnerError, issue_access_code, list_partners, save_partner
from coupons.visits import Visit, checkin_code, checkin_link, checkin_text

BASIC_ID_EXTENSION = "fanbot.line_basic_id"
VISIT_WINDOW_DAYS = 30


def _partner_or_404(partner_id: int) -> Partner:
    partner = get_session().get(Partner, partner_id)
    if partner is None:
        abort(404, description="その店舗は見つかりません。")
    return partner


def line_basic_id() -> str | None:
    """The account's basic ID: the setting when given, else asked of LINE once and remembered."""
    configured = get_settings().line_basic_id
    if configured:
        return configured
    cached: str | None = current_app.extensions.get(BASIC_ID_EXTENSION)
    if cached is None:
        try:
            cached = get_line_client().basic_id()
        except LineApiError:
            return None
        current_app.extensions[BASIC_ID_EXTENSION] = cached
    return cached


@bp.get("/partners")
def partners() -> Any:
    db = get_session()
    since = now() - timedelta(days=VISIT_WINDOW_DAYS)
    visits: dict[int, int] = {
        partner_id: int(count)
        for partner_id, count in db.execute(
            select(Visit.partner_id, func.count()).where(Visit.visited_at >= since).group_by(Visit.partner_id)
        )
    }
    return render_template(
        "admin/partners.html", partners=list_partners(db), visits=visits, window_days=VISIT_WINDOW_DAYS
    )


def _form_values() -> dict[str, object]:
    return {
        "name": request.form.get("name", ""),
        "category": request.form.get("category", ""),
        "address": request.form.get("address", ""),
        "active": request.form.get("active") == "1",
    }


@bp.route("/partners/new", methods=["GET", "POST"])
def partner_new() -> Any:
    return _edit(None)


@bp.route("/partners/<id:partner_id>/edit", methods=["GET", "POST"])
def partner_edit(partner_id: int) -> Any:
    return _edit(_partner_or_404(partner_id))


def _edit(partner: Partner | None) -> Any:
    values: dict[str, object] = (
        {
            "name": partner.name,
            "category": partner.category,
            "address": partner.address,
            "active": partner.active,
        }
        if partner is not None
        else {"name": "", "category": "", "address": "", "active": True}
    )
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = _form_values()
        db = get_session()
        try:
            saved = save_partner(db, values, now(), partner.id if partner is not None else None)
        except PartnerError as error:
            db.rollback()
            errors = error.errors
        else:
            db.commit()
            flash(f"「{saved.name}」を保存しました。")
            return redirect(url_for("admin.partners"))
    return render_template("admin/partner_form.html", partner=partner, values=values, errors=errors), (
        400 if errors else 200
    )


def _checkin_link(partner: Partner) -> tuple[str | None, str]:
    db = get_session()
    code = checkin_code(db, partner.id, now())
    db.commit()
    basic_id = line_basic_id()
    text = checkin_text(code, partner.name)
    return (checkin_link(basic_id, text) if basic_id else None), text


@bp.get("/partners/<id:partner_id>/checkin")
def partner_checkin_card(partner_id: int) -> Any:
    partner = _partner_or_404(partner_id)
    link, text = _checkin_link(partner)
    return render_template("admin/checkin_card.html", partner=partner, link=link, text=text)


@bp.get("/partners/<id:partner_id>/checkin.svg")
def partner_checkin_qr(partner_id: int) -> Any:
    partner = _partner_or_404(partner_id)
    link, _ = _checkin_link(partner)
    if link is None:
        abort(503, description="LINEアカウントのベーシックIDが分からないため、QRコードを作れません。")
    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="svg", scale=8, border=2, xmldecl=False)
    return Response(buffer.getvalue(), mimetype="image/svg+xml")


@bp.post("/partners/<id:partner_id>/access-code")
@admin_required
def partner_access_code(partner_id: int) -> Any:
    partner = _partner_or_404(partner_id)
    db = get_session()
    code = issue_access_code(db, partner.id, now())
    db.commit()
    # Shown once, on a card to print: only the hash is kept.
    grouped = "-".join(code[i : i + 4] for i in range(0, len(code), 4))
    return render_template("admin/access_code_card.html", partner=partner, code=grouped)
