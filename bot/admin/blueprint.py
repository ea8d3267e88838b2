"""The admin blueprint: every page behind staff sign-in, decided once here so no view can forget."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, request

from bot.admin.auth import current_staff, login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin")

TOKYO = ZoneInfo("Asia/Tokyo")
SOURCES = {"line": "LINE", "import": "インポート", "demo": "デモ"}
PUBLIC_ENDPOINTS = frozenset({"admin.login"})


@bp.before_request
def require_staff() -> Any:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if current_staff() is None:
        return login_manager.unauthorized()
    return None


@bp.app_template_filter("jst")
def jst(value: datetime | None) -> str:
    return value.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M") if value is not None else "—"


@bp.app_context_processor
def inject() -> dict[str, Any]:
    return {"current_staff": current_staff, "sources": SOURCES}
