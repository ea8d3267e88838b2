"""The application factory: everything is built here, nothing at import time."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Flask

from bot import admin, db, health, webhook
from bot.app_context import Clock
from bot.conversation import build_dispatcher
from bot.line_client import LineClient
from bot.settings import Settings
from bot.survey import install_priority_provider
from data.catalog import load_catalog
from data.survey_selection import configured_priority


def system_clock() -> datetime:
    return datetime.now(UTC)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> Flask:
    settings = settings or Settings.from_env()
    settings.check_for_serving()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.testing,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Behind HTTPS in production; the local emulator setup is plain HTTP.
        SESSION_COOKIE_SECURE=settings.line_api_base_url is None and not settings.testing,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    # A malformed catalog stops the app here, with the row named, not at the first tap.
    app.extensions["fanbot.catalog"] = load_catalog()
    app.extensions["fanbot.settings"] = settings
    app.extensions["fanbot.clock"] = clock or system_clock
    app.extensions["fanbot.dispatcher"] = build_dispatcher()
    # Campaign targeting will replace this with the items active campaigns need answered.
    install_priority_provider(app, configured_priority())
    app.extensions["fanbot.line_client"] = LineClient(settings)
    db.init_app(app, db.Database(settings.database_url))
    app.register_blueprint(webhook.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(admin.bp)
    if not app.debug and not settings.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return app
