"""``GET /healthz``: is the app up and can it reach its database?"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.db import get_database

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    try:
        with get_database().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return jsonify({"status": "error", "database": "unreachable", "detail": type(error).__name__}), 503
    return jsonify({"status": "ok", "database": "ok"})
