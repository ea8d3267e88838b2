"""Partner shops in the admin pages: Japanese validation, the check-in QR card, the access-code card."""

from __future__ import annotations

import re
from urllib.parse import unquote

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from coupons.models import Partner
from coupons.partners import check_access_code
from tests.conftest import FrozenClock, form_csrf
from tests.test_admin_accounts import make_admin


def add_shop(client: FlaskClient, **fields: str):  # type: ignore[no-untyped-def]
    token = form_csrf(client.get("/admin/partners/new").get_data(as_text=True))
    data = {"csrf": token, "name": "仙台の湯", "category": "スーパー銭湯", "address": "仙台市", "active": "1"}
    data.update(fields)
    return client.post("/admin/partners/new", data=data)


def test_a_marketer_adds_and_edits_a_shop(admin_client: FlaskClient, session: Session) -> None:
    assert add_shop(admin_client).status_code == 302
    partner = session.scalars(select(Partner)).one()
    assert (partner.name, partner.category, partner.active) == ("仙台の湯", "スーパー銭湯", True)
    token = form_csrf(admin_client.get(f"/admin/partners/{partner.id}/edit").get_data(as_text=True))
    admin_client.post(
        f"/admin/partners/{partner.id}/edit",
        data={"csrf": token, "name": "仙台の湯 本店", "category": "銭湯"},
    )
    session.expire_all()
    partner = session.get(Partner, partner.id)  # type: ignore[assignment]
    assert (partner.name, partner.active) == ("仙台の湯 本店", False)
    assert "仙台の湯 本店" in admin_client.get("/admin/partners").get_data(as_text=True)


def test_shop_form_says_what_is_wrong_in_japanese(admin_client: FlaskClient, session: Session) -> None:
    add_shop(admin_client)
    response = add_shop(admin_client, address="あ" * 301)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "「仙台の湯」という店名はすでに登録されています" in html
    assert "300文字以内で入力してください（いま301文字）" in html
    empty = add_shop(admin_client, name="  ")
    assert "店名を入力してください" in empty.get_data(as_text=True)
    assert len(session.scalars(select(Partner)).all()) == 1


def test_shop_names_are_escaped(admin_client: FlaskClient) -> None:
    add_shop(admin_client, name="<script>alert(1)</script>")
    for path in ("/admin/partners", "/admin/partners/1/checkin", "/admin/partners/1/edit"):
        html = admin_client.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html, path
        assert "&lt;script&gt;" in html, path


def test_check_in_card_links_to_the_accounts_chat_with_the_text_filled_in(admin_client: FlaskClient) -> None:
    add_shop(admin_client)
    html = admin_client.get("/admin/partners/1/checkin").get_data(as_text=True)
    link = re.search(r'<code id="checkin-link">([^<]+)</code>', html).group(1)  # type: ignore[union-attr]
    assert link.startswith("https://line.me/R/oaMessage/%40")  # the emulator's basic ID, asked of the API
    assert re.fullmatch(r"来店チェックイン [A-Z2-9]{8} 仙台の湯", unquote(link.split("/?", 1)[1]))
    qr = admin_client.get("/admin/partners/1/checkin.svg")
    assert qr.mimetype == "image/svg+xml"
    assert qr.data.startswith(b"<svg")
    assert (
        admin_client.get("/admin/partners/1/checkin").get_data(as_text=True).count(link) == 1
    )  # stable code


def test_access_code_cards_are_for_admins_and_only_the_hash_is_kept(
    app: Flask, admin_client: FlaskClient, clock: FrozenClock, session: Session
) -> None:
    add_shop(admin_client)
    token = form_csrf(admin_client.get("/admin/partners").get_data(as_text=True))
    assert admin_client.post("/admin/partners/1/access-code", data={"csrf": token}).status_code == 403
    admin = make_admin(app, clock)
    token = form_csrf(admin.get("/admin/partners").get_data(as_text=True))
    html = admin.post("/admin/partners/1/access-code", data={"csrf": token}).get_data(as_text=True)
    code = re.search(r'id="access-code">([A-Z2-9-]+)<', html).group(1)  # type: ignore[union-attr]
    assert len(code.replace("-", "")) == 12
    partner = session.get(Partner, 1)
    assert partner is not None and partner.access_code_hash
    assert code.replace("-", "") not in partner.access_code_hash
    assert check_access_code(partner, code.replace("-", ""))
    assert not check_access_code(partner, "AAAABBBBCCCC")
