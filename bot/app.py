"""The application factory: everything is built here, nothing at import time."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from bot import admin, coupon_images, db, health, metrics, partner_pages, webhook
from bot.admin.auth import init_login
from bot.app_context import Clock
from bot.conversation import build_dispatcher
from bot.error_pages import init_error_pages
from bot.limiter import init_limiter, limiter
from bot.line_client import LineClient
from bot.security_headers import init_security_headers
from bot.settings import Settings
from bot.survey import AnswerCountCache, install_answer_count_cache, install_priority_provider
from bot.url_ids import IdConverter
from data.catalog import load_catalog
from data.survey_selection import DEFAULT_PRIORITY_ITEMS
from data.survey_settings import priority_provider


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
        # A signed session older than this is refused even if someone kept a copy.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        # Existing forms and tests post the token as "csrf".
        WTF_CSRF_FIELD_NAME="csrf",
        WTF_CSRF_TIME_LIMIT=None,
        # Rate limits stay on in tests: the throttling is itself under test.
        RATELIMIT_ENABLED=True,
    )
    app.url_map.converters["id"] = IdConverter
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    # A malformed catalog stops the app here, with the row named, not at the first tap.
    app.extensions["fanbot.catalog"] = load_catalog()
    app.extensions["fanbot.settings"] = settings
    app.extensions["fanbot.clock"] = clock or system_clock
    app.extensions["fanbot.dispatcher"] = build_dispatcher()
    # The marketer's priorities from the survey page (default list until any is set); campaign
    # targeting can put the items active campaigns need in front of these.
    install_priority_provider(app, priority_provider(DEFAULT_PRIORITY_ITEMS))
    install_answer_count_cache(app, AnswerCountCache())
    app.extensions["fanbot.line_client"] = LineClient(settings)
    db.init_app(app, db.Database(settings.database_url))
    # Every form of every page needs a CSRF token; only LINE's signed webhook is exempt.
    csrf = CSRFProtect(app)
    csrf.exempt(webhook.bp)
    init_login(app)
    init_limiter(app, settings)
    limiter.exempt(webhook.bp)
    limiter.exempt(metrics.bp)
    init_security_headers(app)
    init_error_pages(app)
    app.register_blueprint(webhook.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(coupon_images.bp)
    app.register_blueprint(partner_pages.bp)
    app.register_blueprint(admin.bp)
    if not app.debug and not settings.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return app
