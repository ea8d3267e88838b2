"""Every error page speaks Japanese in the admin style; the favicon is served."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import form_csrf


def test_not_found_page_is_japanese_in_admin_style(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    body = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "ページが見つかりません" in body
    assert 'lang="ja"' in body
    assert "admin.css" in body
    assert "Not Found" not in body


def test_view_descriptions_are_shown_on_the_error_page(admin_client: FlaskClient) -> None:
    body = admin_client.get("/admin/fans/424242").get_data(as_text=True)
    assert "そのファンは見つかりません" in body


def test_forbidden_page_is_japanese(app: Flask, client: FlaskClient) -> None:
    from data.staff import create_staff_user

    with app.extensions["fanbot.db"].transaction() as db:
        create_staff_user(
            db,
            "m2@example.com",
            "マーケ",
            "a long password",
            role="marketer",
            now=app.extensions["fanbot.clock"](),
        )
    token = form_csrf(client.get("/admin/login").get_data(as_text=True))
    client.post(
        "/admin/login", data={"csrf": token, "email": "m2@example.com", "password": "a long password"}
    )
    response = client.get("/admin/staff")
    assert response.status_code == 403
    assert "権限がありません" in response.get_data(as_text=True)
    assert "管理者だけ" in response.get_data(as_text=True)


def test_method_not_allowed_is_japanese(client: FlaskClient) -> None:
    response = client.delete("/admin/login")
    assert response.status_code == 405
    assert "この操作はできません" in response.get_data(as_text=True)
    assert "Allow" in response.headers


def test_csrf_failure_page_is_japanese(client: FlaskClient) -> None:
    response = client.post("/admin/login", data={"email": "a@example.com", "password": "x"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "フォームの有効期限" in body
    assert "CSRF" not in body


def test_server_error_page_is_japanese_and_hides_the_error(app: Flask) -> None:
    @app.get("/boom-for-test")
    def boom() -> str:
        raise RuntimeError("secret internal detail")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/boom-for-test")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "サーバーでエラーが起きました" in body
    assert "secret internal detail" not in body
    assert "Traceback" not in body


def test_favicon_is_served(client: FlaskClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"  # the ICO file signature


def test_pages_link_the_favicon(client: FlaskClient) -> None:
    assert 'rel="icon"' in client.get("/admin/login").get_data(as_text=True)
