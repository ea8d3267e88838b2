"""The one rate limiter of the web app (Flask-Limiter); sign-in forms decorate their views with it.

The limiter object is shared by the views that use it, and `init_limiter` binds it to each app that
`create_app` builds, with fresh storage each time. Counts live in the process's memory unless
`FANBOT_RATELIMIT_STORAGE_URI` names a shared store (e.g. ``redis://``), which several web processes need
for one common count.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from bot.settings import Settings

limiter = Limiter(get_remote_address, default_limits=[], headers_enabled=True)

# Per client address, and per e-mail address so that guessing from many addresses is throttled too.
SIGN_IN_LIMITS_PER_ADDRESS = "10 per minute;100 per day"
SIGN_IN_LIMITS_PER_ACCOUNT = "10 per 10 minutes;50 per day"


def init_limiter(app: Flask, settings: Settings) -> None:
    app.config["RATELIMIT_STORAGE_URI"] = settings.ratelimit_storage_uri
    app.config["RATELIMIT_HEADERS_ENABLED"] = True
    limiter.init_app(app)


def failed_sign_in(response: Response) -> bool:
    """Only failed attempts count against the limits; a successful sign-in redirects."""
    return response.status_code != 302


def submitted_email() -> str:
    return "sign-in:" + request.form.get("email", "").strip().lower()
