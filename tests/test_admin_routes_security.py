"""Every admin route, found from the URL map, refuses anonymous visitors; templates never unescape."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import form_csrf

PUBLIC = {"admin.login"}


def admin_rules(app: Flask) -> list[tuple[str, str, set[str]]]:
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin.") and rule.endpoint not in PUBLIC:
            # Fill every converter with a plausible value so the view itself would be reached.
            path = re.sub(r"<(?:[a-z]+:)?[a-z_]+>", "1", rule.rule)
            rules.append((rule.endpoint, path, set(rule.methods or ()) - {"HEAD", "OPTIONS"}))
    return rules


def test_the_url_map_has_admin_routes(app: Flask) -> None:
    endpoints = {endpoint for endpoint, _, _ in admin_rules(app)}
    assert {
        "admin.dashboard",
        "admin.fans",
        "admin.survey",
        "admin.analysis",
        "admin.staff_list",
    } <= endpoints


def test_every_admin_route_sends_anonymous_visitors_to_sign_in(app: Flask, client: FlaskClient) -> None:
    token = form_csrf(client.get("/admin/login").get_data(as_text=True))
    for endpoint, path, methods in admin_rules(app):
        for method in methods:
            response = client.open(path, method=method, data={"csrf": token} if method == "POST" else None)
            assert response.status_code == 302, (endpoint, method, response.status_code)
            assert response.headers["Location"].startswith("/admin/login"), endpoint


def test_every_admin_form_refuses_a_post_without_csrf_token(app: Flask, admin_client: FlaskClient) -> None:
    posts = [(endpoint, path) for endpoint, path, methods in admin_rules(app) if "POST" in methods]
    assert len(posts) >= 5
    for endpoint, path in posts:
        response = admin_client.post(path, data={})
        assert response.status_code == 400, endpoint
        assert "フォームの有効期限" in response.get_data(as_text=True), endpoint


def test_no_template_turns_autoescaping_off() -> None:
    root = Path(__file__).resolve().parent.parent / "bot"
    for template in root.rglob("templates/**/*"):
        if template.is_file():
            text = template.read_text(encoding="utf-8")
            assert "|safe" not in text.replace(" ", ""), template
            assert "autoescape false" not in text, template
            assert "Markup(" not in text, template
