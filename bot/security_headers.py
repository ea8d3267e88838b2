"""Security headers on every response of the app, and a development server that does not name itself.

Pages load scripts, styles and images only from this site (charts are server-rendered SVG or PNG, page
scripts are static files), so the policy needs no ``unsafe-inline``.
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.serving import WSGIRequestHandler

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
HSTS = "max-age=31536000; includeSubDomains"
SERVER_NAME = "fanbot"


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    # Pages show fans' data and carry form tokens: no shared or browser cache keeps them.
    # Static files (stylesheet, scripts, favicon) hold nothing personal and may be cached.
    if request.endpoint not in ("static", "error_pages.favicon"):
        headers["Cache-Control"] = "no-store"
    headers["Server"] = SERVER_NAME
    return response


def init_security_headers(app: Flask) -> None:
    app.after_request(add_security_headers)


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without the Werkzeug and Python versions in the ``Server`` header."""

    def version_string(self) -> str:
        return SERVER_NAME
