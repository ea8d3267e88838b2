"""Roles: only admins manage accounts; marketers use everything else."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import StaffUser
from data.staff import create_staff_user
from tests.conftest import FrozenClock, form_csrf

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin password 123"


def signed_in(app: Flask, email: str, password: str) -> FlaskClient:
    client = app.test_client()
    token = form_csrf(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"csrf": token, "email": email, "password": password})
    assert response.status_code == 302
    return client


def make_admin(app: Flask, clock: FrozenClock) -> FlaskClient:
    with app.extensions["fanbot.db"].transaction() as db:
        create_staff_user(db, ADMIN_EMAIL, "管理 太郎", ADMIN_PASSWORD, role="admin", now=clock())
    return signed_in(app, ADMIN_EMAIL, ADMIN_PASSWORD)


def test_marketer_cannot_open_or_post_to_account_pages(
    admin_client: FlaskClient, marketer: StaffUser
) -> None:
    assert admin_client.get("/admin/staff").status_code == 403
    token = form_csrf(admin_client.get("/admin/").get_data(as_text=True))
    response = admin_client.post(
        "/admin/staff",
        data={
            "csrf": token,
            "email": "x@example.com",
            "display_name": "X",
            "role": "admin",
            "password": "p" * 12,
        },
    )
    assert response.status_code == 403
    response = admin_client.post(f"/admin/staff/{marketer.id}/role", data={"csrf": token, "role": "admin"})
    assert response.status_code == 403
    assert "アカウント</a>" not in admin_client.get("/admin/").get_data(as_text=True)


def test_admin_creates_a_marketer_who_can_sign_in(app: Flask, clock: FrozenClock, session: Session) -> None:
    admin = make_admin(app, clock)
    token = form_csrf(admin.get("/admin/staff").get_data(as_text=True))
    response = admin.post(
        "/admin/staff",
        data={
            "csrf": token,
            "email": "New@Example.com",
            "display_name": "新人",
            "role": "marketer",
            "password": "p" * 12,
        },
    )
    assert response.status_code == 302
    user = session.scalars(select(StaffUser).where(StaffUser.email == "new@example.com")).one()
    assert user.role == "marketer"
    signed_in(app, "new@example.com", "p" * 12)


def test_account_form_errors_are_japanese(app: Flask, clock: FrozenClock) -> None:
    admin = make_admin(app, clock)
    token = form_csrf(admin.get("/admin/staff").get_data(as_text=True))
    response = admin.post(
        "/admin/staff",
        data={
            "csrf": token,
            "email": "not-an-address",
            "display_name": "",
            "role": "marketer",
            "password": "short",
        },
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "メールアドレスの形式ではありません" in body
    assert "表示名を入力してください" in body
    assert "パスワードは10文字以上" in body
    duplicate = admin.post(
        "/admin/staff",
        data={
            "csrf": token,
            "email": ADMIN_EMAIL,
            "display_name": "x",
            "role": "marketer",
            "password": "p" * 12,
        },
    )
    assert "すでにあります" in duplicate.get_data(as_text=True)


def test_disabling_an_account_ends_its_sessions(app: Flask, clock: FrozenClock, marketer: StaffUser) -> None:
    from tests.conftest import MARKETER_EMAIL, MARKETER_PASSWORD

    victim = signed_in(app, MARKETER_EMAIL, MARKETER_PASSWORD)
    admin = make_admin(app, clock)
    token = form_csrf(admin.get("/admin/staff").get_data(as_text=True))
    assert admin.post(f"/admin/staff/{marketer.id}/disable", data={"csrf": token}).status_code == 302
    assert victim.get("/admin/").status_code == 302
    token = form_csrf(app.test_client().get("/admin/login").get_data(as_text=True))
    again = app.test_client()
    token = form_csrf(again.get("/admin/login").get_data(as_text=True))
    refused = again.post(
        "/admin/login", data={"csrf": token, "email": MARKETER_EMAIL, "password": MARKETER_PASSWORD}
    )
    assert refused.status_code == 401


def test_the_last_admin_cannot_be_demoted(app: Flask, clock: FrozenClock, session: Session) -> None:
    admin = make_admin(app, clock)
    me = session.scalars(select(StaffUser).where(StaffUser.email == ADMIN_EMAIL)).one()
    token = form_csrf(admin.get("/admin/staff").get_data(as_text=True))
    admin.post(f"/admin/staff/{me.id}/role", data={"csrf": token, "role": "marketer"})
    session.expire_all()
    assert session.get(StaffUser, me.id).role == "admin"  # type: ignore[union-attr]
    assert "管理者が一人もいなくなる" in admin.get("/admin/staff").get_data(as_text=True)


def test_account_names_are_escaped(app: Flask, clock: FrozenClock) -> None:
    admin = make_admin(app, clock)
    with app.extensions["fanbot.db"].transaction() as db:
        create_staff_user(db, "x@example.com", "<script>alert(1)</script>", "p" * 12, now=clock())
    body = admin.get("/admin/staff").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
