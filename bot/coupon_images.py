"""Coupon QR images for the Flex card, fetched by LINE's servers and fans' phones."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort

from bot.app_context import get_settings
from coupons.codes import has_valid_check
from coupons.qr import qr_mac, qr_png

bp = Blueprint("coupon_images", __name__)


@bp.get("/coupons/qr/<string:name>.png")
def qr_image(name: str) -> Response:
    code, _, mac = name.rpartition("-")
    key = get_settings().coupon_qr_key
    if not has_valid_check(code) or not hmac.compare_digest(mac.encode(), qr_mac(code, key).encode()):
        abort(404)
    # The image is a bearer credential: like every page, it is sent with Cache-Control: no-store.
    return Response(qr_png(code, key), mimetype="image/png")
