"""``/partner``: the shop counter on a phone. Staff sign in with their shop's access code, type or
scan a coupon, see the offer and whether it can be used, and tap to redeem it.

A shop session is its own thing: ``session["shop"]`` holds the shop and when it signed in, and
nothing else. Signing in as a shop clears the session (an admin signed in on the same browser is
signed out), and the admin's sign-in clears it the other way, so a shop session never reaches
``/admin`` and an admin session never redeems. Shop sessions end after `SHOP_SESSION_HOURS`.

Failed sign-ins and refused codes are slowed down by the app's one Flask-Limiter; a refused code
answers 422, which is what the limits count.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import func, select

from bot.app_context import get_line_client, get_settings, now
from bot.coupon_cards import TOKYO, japanese_datetime
from bot.coupon_delivery import thank_for_redemption
from bot.db import get_session
from bot.limiter import limiter
from bot.metrics import REDEMPTIONS, log_event
from coupons.codes import format_code
from coupons.models import Coupon, Partner
from coupons.partners import check_access_code
from coupons.redeem import Redemption, inspect, redeem
from data.consent import is_reachable
from data.models import Fan

bp = Blueprint("partner", __name__, url_prefix="/partner")
log = logging.getLogger(__name__)

SHOP_KEY = "shop"
SHOP_SESSION_HOURS = 12
SIGN_IN_PER_ADDRESS = "10 per minute;60 per day"
SIGN_IN_PER_SHOP = "10 per 10 minutes;50 per day"
# Refused codes per shop session: enough for a busy counter's typos, far too few to guess 64-bit codes.
REFUSALS_PER_SHOP = "20 per minute;300 per day"


def _failed(response: Response) -> bool:
    return response.status_code in (401, 422)


def _shop_key() -> str:
    shop = session.get(SHOP_KEY) or {}
    return f"shop:{shop.get('id', request.remote_addr)}"


def _chosen_shop_key() -> str:
    return "shop-sign-in:" + request.form.get("shop", "")


def current_shop() -> Partner | None:
    """The signed-in shop, or None when there is no shop session, it expired, or the shop was deactivated."""
    shop = session.get(SHOP_KEY)
    if not isinstance(shop, dict):
        return None
    try:
        since = datetime.fromisoformat(str(shop["since"]))
        partner_id = int(shop["id"])
    except (KeyError, TypeError, ValueError):
        return None
    if now() - since > timedelta(hours=SHOP_SESSION_HOURS):
        session.pop(SHOP_KEY, None)
        return None
    partner = get_session().get(Partner, partner_id)
    return partner if partner is not None and partner.active else None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(SIGN_IN_PER_ADDRESS, methods=["POST"], deduct_when=_failed)
@limiter.limit(SIGN_IN_PER_SHOP, key_func=_chosen_shop_key, methods=["POST"], deduct_when=_failed)
def login() -> Any:
    db = get_session()
    shops = db.scalars(select(Partner).where(Partner.active.is_(True)).order_by(Partner.name)).all()
    error = None
    if request.method == "POST":
        chosen = next((s for s in shops if str(s.id) == request.form.get("shop", "")), None)
        code = request.form.get("access_code", "").strip()
        db.rollback()  # end the read before scrypt (SQLite's write lock)
        if chosen is not None and check_access_code(chosen, code):
            session.clear()  # no admin sign-in, nothing from before, survives a shop sign-in
            session.permanent = True
            session[SHOP_KEY] = {"id": chosen.id, "since": now().isoformat()}
            return redirect(url_for("partner.counter"))
        error = "店舗かアクセスコードが違います。"
    return render_template("partner/login.html", shops=shops, error=error), 401 if error else 200


@bp.post("/logout")
def logout() -> Any:
    session.pop(SHOP_KEY, None)
    flash("ログアウトしました。")
    return redirect(url_for("partner.login"))


def _view(result: Redemption, shop: Partner) -> dict[str, Any]:
    """What the counter page shows about a coupon: the offer as issued and its window."""
    coupon = result.coupon
    if coupon is None or result.reason in ("unknown", "other_shop", "mistyped", "altered"):
        # Another shop's or a deleted fan's coupon: say why, show nothing of it.
        return {"result": result}
    return {
        "result": result,
        "code": format_code(coupon.code),
        "title": coupon.offer_title,
        "offer": coupon.offer_text,
        "terms": coupon.offer_terms,
        "valid_from": japanese_datetime(coupon.valid_from),
        "expires_at": japanese_datetime(coupon.expires_at),
        "redeemed_at": japanese_datetime(coupon.redeemed_at) if coupon.redeemed_at else None,
    }


def _counter(shop: Partner, status: int = 200, **context: Any) -> tuple[str, int]:
    today = redemptions_today(shop, now())
    return render_template("partner/counter.html", shop=shop, today=today, **context), status


@bp.get("/")
def counter() -> Any:
    shop = current_shop()
    if shop is None:
        return redirect(url_for("partner.login"))
    return _counter(shop)


@bp.post("/check")
@limiter.limit(REFUSALS_PER_SHOP, key_func=_shop_key, deduct_when=_failed)
def check() -> Any:
    shop = current_shop()
    if shop is None:
        return redirect(url_for("partner.login"))
    text = request.form.get("code", "")
    result = inspect(get_session(), text, shop.id, now(), qr_key=get_settings().coupon_qr_key)
    view = _view(result, shop)
    return _counter(shop, 200 if result.ok else 422, typed=text, **view)


@bp.post("/redeem")
@limiter.limit(REFUSALS_PER_SHOP, key_func=_shop_key, deduct_when=_failed)
def redeem_coupon() -> Any:
    shop = current_shop()
    if shop is None:
        return redirect(url_for("partner.login"))
    db = get_session()
    result = redeem(db, request.form.get("code", ""), shop.id, now(), qr_key=get_settings().coupon_qr_key)
    fan = db.get(Fan, result.coupon.fan_id) if result.ok and result.coupon and result.coupon.fan_id else None
    view = _view(result, shop)
    db.commit()
    REDEMPTIONS.labels(outcome=result.reason).inc()
    log_event("redemption", partner=shop.id, outcome=result.reason)
    page, status = _counter(shop, 200 if result.ok else 422, done=True, **view)
    response = make_response(page, status)
    reachable = fan is not None and is_reachable(fan, get_settings().consent_version)
    if result.ok and result.coupon is not None and fan is not None and fan.line_user_id and reachable:
        user_id, code, client = fan.line_user_id, result.coupon.code, get_line_client()
        # After the page went out: the counter never waits on LINE for a courtesy message.
        response.call_on_close(lambda: thank_for_redemption(client, user_id, shop.name, code))
    return response


def redemptions_today(shop: Partner, moment: datetime) -> int:
    """How many coupons the shop redeemed since midnight, Japan time (shown on the counter page)."""
    local = moment.astimezone(TOKYO)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    count = get_session().scalar(
        select(func.count())
        .select_from(Coupon)
        .where(Coupon.partner_id == shop.id, Coupon.state == "redeemed", Coupon.redeemed_at >= midnight)
    )
    return int(count or 0)
