"""The admin pages' safety: CSRF everywhere, throttled sign-in, sessions that end, headers, odd input."""

from __future__ import annotations

import sqlite3
import threading
from http.client import HTTPConnection

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from bot.security_headers import QuietRequestHandler
from data.models import StaffUser
from tests.conftest import MARKETER_EMAIL, MARKETER_PASSWORD, form_csrf


def sign_in(client: FlaskClient, password: str = MARKETER_PASSWORD, *, next_url: str | None = None) -> int:
    token = form_csrf(client.get("/admin/login").get_data(as_text=True))
    path = "/admin/login" if next_url is None else f"/admin/login?next={next_url}"
    response = client.post(path, data={"csrf": token, "email": MARKETER_EMAIL, "password": password})
    return response.status_code


@pytest.mark.parametrize(
    "next_url",
    [
        "/%09/evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "https://evil.example/",
        "/%0a/evil.example/",
        "%2F%2Fevil.example",
        "/ /evil.example",
    ],
)
def test_sign_in_never_redirects_to_another_site(
    client: FlaskClient, marketer: StaffUser, next_url: str
) -> None:
    token = form_csrf(client.get("/admin/login").get_data(as_text=True))
    response = client.post(
        f"/admin/login?next={next_url}",
        data={"csrf": token, "email": MARKETER_EMAIL, "password": MARKETER_PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


def test_sign_in_returns_to_the_admin_page_asked_for(client: FlaskClient, marketer: StaffUser) -> None:
    first = client.get("/admin/fans?source=line")
    assert first.status_code == 302
    login_url = first.headers["Location"]
    token = form_csrf(client.get(login_url).get_data(as_text=True))
    response = client.post(
        login_url, data={"csrf": token, "email": MARKETER_EMAIL, "password": MARKETER_PASSWORD}
    )
    assert response.headers["Location"] == "/admin/fans?source=line"


def test_repeated_wrong_passwords_lock_out_even_the_right_one(
    client: FlaskClient, marketer: StaffUser
) -> None:
    statuses = [sign_in(client, "wrong password") for _ in range(12)]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    assert sign_in(client) == 429  # the right password no longer helps: the guesser gets nothing
    assert client.get("/admin/").status_code == 302  # still signed out


def test_throttled_sign_in_answers_in_japanese(client: FlaskClient, marketer: StaffUser) -> None:
    for _ in range(10):
        sign_in(client, "wrong password")
    token = form_csrf(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"csrf": token, "email": MARKETER_EMAIL, "password": "x"})
    assert response.status_code == 429
    body = response.get_data(as_text=True)
    assert "試行回数が多すぎます" in body
    assert "per" not in body
    assert "Retry-After" in response.headers


def test_guessing_one_account_from_many_addresses_is_throttled(
    client: FlaskClient, marketer: StaffUser
) -> None:
    statuses = []
    for attempt in range(12):
        token = form_csrf(client.get("/admin/login").get_data(as_text=True))
        response = client.post(
            "/admin/login",
            data={"csrf": token, "email": MARKETER_EMAIL, "password": "wrong password"},
            environ_overrides={"REMOTE_ADDR": f"10.0.0.{attempt + 1}"},
        )
        statuses.append(response.status_code)
    assert statuses[-1] == 429


def test_successful_sign_ins_do_not_use_up_the_allowance(client: FlaskClient, marketer: StaffUser) -> None:
    for _ in range(12):
        assert sign_in(client) == 302


def test_sign_out_invalidates_a_copied_session_cookie(
    app: Flask, client: FlaskClient, marketer: StaffUser
) -> None:
    assert sign_in(client) == 302
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/admin/").status_code == 200  # a copy works while the owner is signed in...
    token = form_csrf(client.get("/admin/").get_data(as_text=True))
    assert client.post("/admin/logout", data={"csrf": token}).status_code == 302
    assert thief.get("/admin/").status_code == 302  # ...and not after the owner signed out


def test_session_cookie_is_http_only_and_same_site(client: FlaskClient, marketer: StaffUser) -> None:
    token = form_csrf(client.get("/admin/login").get_data(as_text=True))
    response = client.post(
        "/admin/login", data={"csrf": token, "email": MARKETER_EMAIL, "password": MARKETER_PASSWORD}
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_session_cookie_is_secure_when_serving_the_real_platform(settings, clock) -> None:  # type: ignore[no-untyped-def]
    from bot.app import create_app

    production = create_app(
        settings.with_overrides(
            line_api_base_url=None,
            testing=False,
            secret_key="a-real-secret-key-1234567890",
            public_base_url="https://fanbot.example.jp",
        ),
        clock=clock,
    )
    try:
        assert production.config["SESSION_COOKIE_SECURE"] is True
    finally:
        production.extensions["fanbot.db"].dispose()
        production.extensions["fanbot.line_client"].close()


def test_forms_without_csrf_token_are_refused(admin_client: FlaskClient) -> None:
    for path in ("/admin/logout", "/admin/staff", "/admin/login"):
        response = admin_client.post(path, data={"email": "x@example.com", "password": "x" * 12})
        assert response.status_code == 400, path
        assert "フォームの有効期限" in response.get_data(as_text=True)
    assert admin_client.get("/admin/").status_code == 200  # the refused logout changed nothing


def test_webhook_needs_no_csrf_token(client: FlaskClient) -> None:
    # LINE signs its posts; without a signature the webhook refuses, but not for a missing form token.
    response = client.post("/callback", data=b"{}", content_type="application/json")
    assert response.status_code == 400
    assert "フォーム" not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/admin/", "/admin/login", "/admin/fans", "/nowhere", "/healthz"])
def test_every_page_carries_security_headers(admin_client: FlaskClient, path: str) -> None:
    response = admin_client.get(path)
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in headers  # plain HTTP: HSTS would be ignored anyway


def test_hsts_over_https(client: FlaskClient) -> None:
    response = client.get("/admin/login", base_url="https://fanbot.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_server_header_names_neither_werkzeug_nor_python(app: Flask) -> None:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = HTTPConnection("127.0.0.1", server.server_port, timeout=5)
        connection.request("GET", "/admin/login")
        response = connection.getresponse()
        response.read()
        server_header = response.getheader("Server") or ""
        connection.close()
    finally:
        server.shutdown()
    assert "Werkzeug" not in server_header
    assert "Python" not in server_header


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/admin/fans?page=²", 400),
        ("/admin/fans?page=" + "9" * 5000, 400),
        ("/admin/fans?page=-1", 400),
        ("/admin/fans?page=0", 400),
        ("/admin/fans?page=1.5", 400),
        ("/admin/fans?page=999", 404),
        ("/admin/fans/99999999999999999999999", 404),
        ("/admin/fans/9223372036854775808", 404),
        ("/admin/fans/9223372036854775807", 404),
        ("/admin/fans/١٢", 404),
    ],
)
def test_odd_page_numbers_and_ids_are_clear_errors(admin_client: FlaskClient, path: str, status: int) -> None:
    response = admin_client.get(path)
    assert response.status_code == status
    assert "<html" in response.get_data(as_text=True)


def test_password_check_runs_outside_any_write_transaction(
    client: FlaskClient, marketer: StaffUser, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from werkzeug.security import check_password_hash as original

    import data.staff

    seen: list[tuple[bool, bool]] = []

    def watching(pwhash: str, password: str) -> bool:
        in_transaction = g.db_session.in_transaction() if "db_session" in g else False
        # On SQLite, try to take the write lock from another connection: it must be free.
        lock_free = True
        if database_url.startswith("sqlite"):
            other = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
            except sqlite3.OperationalError:
                lock_free = False
            finally:
                other.close()
        seen.append((in_transaction, lock_free))
        return original(pwhash, password)

    monkeypatch.setattr(data.staff, "check_password_hash", watching)
    assert sign_in(client, "wrong password") == 401
    assert sign_in(client) == 302
    assert seen == [(False, True), (False, True)]
