"""Partner shops in the admin pages: list and edit, the check-in QR card, the staff access-code card."""

from __future__ import annotations

import io
import secrets
import unicodedata
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
from coupons.partners import create_partner, set_access_code
from coupons.visits import Visit, checkin_code, checkin_link, checkin_text

BASIC_ID_EXTENSION = "fanbot.line_basic_id"
VISIT_WINDOW_DAYS = 30
# The columns' sizes (coupons.models.Partner).
LIMITS = {"name": 200, "category": 100, "address": 300}
ACCESS_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read off a card, typed on a phone
ACCESS_CODE_LENGTH = 12  # about 59 bits, behind a throttled sign-in


def new_access_code() -> str:
    return "".join(secrets.choice(ACCESS_CODE_ALPHABET) for _ in range(ACCESS_CODE_LENGTH))


def _clean(value: object) -> str:
    return unicodedata.normalize("NFKC", str(value or "")).strip()


def partner_form_errors(values: dict[str, object], partner_id: int | None) -> dict[str, str]:
    """What is wrong with a shop form, field by field, in Japanese."""
    errors: dict[str, str] = {}
    name = str(values["name"])
    if not name:
        errors["name"] = "店名を入力してください。"
    for field, limit in LIMITS.items():
        text = str(values[field])
        if len(text) > limit:
            errors[field] = f"{limit}文字以内で入力してください（いま{len(text)}文字）。"
    if "name" not in errors:
        same = select(func.count()).select_from(Partner).where(Partner.name == name)
        if partner_id is not None:
            same = same.where(Partner.id != partner_id)
        if get_session().scalar(same):
            errors["name"] = f"「{name}」という店名はすでに登録されています。"
    return errors


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
        "admin/partners.html",
        partners=list(db.scalars(select(Partner).order_by(Partner.name))),
        visits=visits,
        window_days=VISIT_WINDOW_DAYS,
    )


def _form_values() -> dict[str, object]:
    return {
        "name": _clean(request.form.get("name")),
        "category": _clean(request.form.get("category")),
        "address": _clean(request.form.get("address")),
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
        errors = partner_form_errors(values, partner.id if partner is not None else None)
        if not errors:
            db = get_session()
            if partner is None:
                # Nobody sees this first code: an admin issues the one the shop gets, on its card.
                partner = create_partner(
                    db,
                    name=str(values["name"]),
                    category=str(values["category"]),
                    address=str(values["address"]),
                    access_code=new_access_code(),
                    now=now(),
                )
            partner.name = str(values["name"])
            partner.category = str(values["category"])
            partner.address = str(values["address"])
            partner.active = bool(values["active"])
            db.commit()
            flash(f"「{partner.name}」を保存しました。")
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
    code = new_access_code()
    set_access_code(partner, code)
    get_session().commit()
    # Shown once, on a card to print: only the hash is kept.
    grouped = "-".join(code[i : i + 4] for i in range(0, len(code), 4))
    return render_template("admin/access_code_card.html", partner=partner, code=grouped)
