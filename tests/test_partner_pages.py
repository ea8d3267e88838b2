"""``/partner``: shop staff sign in, check a coupon, redeem it once; every refusal says why."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.coupon_delivery import coupon_retry_key
from coupons.codes import ALPHABET, format_code, new_code
from coupons.issue import issue_coupon
from coupons.models import Campaign, Coupon, Partner
from coupons.partners import create_partner
from coupons.qr import qr_payload
from data.models import Fan
from tests.conftest import FrozenClock, RunningEmulator, form_csrf

SENTO_CODE = "sento-2026"
CAFE_CODE = "cafe-2026!"


@pytest.fixture
def shops(session: Session, clock: FrozenClock) -> tuple[Partner, Partner]:
    sento = create_partner(session, name="湯の郷 アリーナ前店", access_code=SENTO_CODE, now=clock())
    cafe = create_partner(session, name="カフェ ブザービーター", access_code=CAFE_CODE, now=clock())
    session.commit()
    return sento, cafe


def _issue(session: Session, shop: Partner, user_id: str, clock: FrozenClock, **overrides: object) -> Coupon:
    fan = session.scalars(select(Fan).where(Fan.line_user_id == user_id)).one()
    values: dict[str, object] = {
        "partner_id": shop.id,
        "title": "試合後の入浴 200円引き",
        "offer_text": "入館料から200円引き",
        "terms": "お一人様1回限り",
        "valid_hours": 48,
        "total_cap": 100,
        "target_rule": {},
        "holdout_share": 0.0,
        "state": "active",
        "created_at": clock(),
        "updated_at": clock(),
    }
    values.update(overrides)
    campaign = Campaign(**values)
    session.add(campaign)
    session.flush()
    result = issue_coupon(session, campaign.id, fan.id, clock())
    session.commit()
    assert result.coupon is not None
    return result.coupon


def sign_in(client: FlaskClient, shop: Partner, code: str, address: str = "127.0.0.1") -> int:
    token = form_csrf(client.get("/partner/login").get_data(as_text=True))
    response = client.post(
        "/partner/login",
        data={"csrf": token, "shop": str(shop.id), "access_code": code},
        environ_base={"REMOTE_ADDR": address},
    )
    return response.status_code


def post(client: FlaskClient, path: str, code: str) -> tuple[int, str]:
    token = form_csrf(client.get("/partner/").get_data(as_text=True))
    # Closing the response, as a server does once it is sent, runs what waits for that (the thank-you).
    with client.post(path, data={"csrf": token, "code": code}) as response:
        return response.status_code, response.get_data(as_text=True)


def reason(html: str) -> str:
    match = re.search(r'data-reason="([a-z_]+)"', html)
    assert match, html
    return match.group(1)


def test_a_shop_signs_in_checks_and_redeems_once_and_the_fan_is_thanked(
    client: FlaskClient,
    shops: tuple[Partner, Partner],
    session: Session,
    fan_id: str,
    clock: FrozenClock,
    emulator: RunningEmulator,
) -> None:
    sento, _ = shops
    coupon = _issue(session, sento, fan_id, clock)
    assert client.get("/partner/").status_code == 302
    assert sign_in(client, sento, "wrong-code") == 401
    assert sign_in(client, sento, SENTO_CODE) == 302
    page = client.get("/partner/").get_data(as_text=True)
    assert "湯の郷 アリーナ前店" in page and "本日の利用 0 件" in page

    status, html = post(client, "/partner/check", format_code(coupon.code).lower())
    assert status == 200 and reason(html) == "usable"
    assert "入館料から200円引き" in html and "利用する" in html
    with Session(session.get_bind()) as fresh:
        assert fresh.get(Coupon, coupon.id).state == "issued"  # type: ignore[union-attr]

    clock.advance(minutes=3)
    status, html = post(client, "/partner/redeem", format_code(coupon.code))
    assert status == 200 and reason(html) == "redeemed" and "本日の利用 1 件" in html
    status, html = post(client, "/partner/redeem", coupon.code)
    assert status == 422 and reason(html) == "used"
    assert "このクーポンは利用済みです（2026年11月28日 21:33）。" in html

    scraped = client.get("/metrics").get_data(as_text=True)
    counted = {
        outcome: float(found.group(1))
        for outcome in ("redeemed", "used")
        if (found := re.search(rf'fanbot_redemptions_total{{outcome="{outcome}"}} ([0-9.]+)', scraped))
    }
    assert counted["redeemed"] >= 1 and counted["used"] >= 1
    assert 'fanbot_sends_total{kind="thanks",outcome="sent"}' in scraped
    thanks = [m for m in emulator.state.messages_for(fan_id) if "ご利用いただきました" in m.get("text", "")]
    assert len(thanks) == 1 and "湯の郷 アリーナ前店" in thanks[0]["text"]
    keys = [r.headers.get("X-Line-Retry-Key") for r in emulator.state.requests if r.path.endswith("/push")]
    assert coupon_retry_key("thanks", coupon.code) in keys


def test_every_refusal_says_why(
    client: FlaskClient,
    app: Flask,
    shops: tuple[Partner, Partner],
    session: Session,
    fan_id: str,
    clock: FrozenClock,
) -> None:
    sento, cafe = shops
    mine = _issue(session, sento, fan_id, clock, valid_hours=2)
    theirs = _issue(session, cafe, fan_id, clock)
    assert sign_in(client, sento, SENTO_CODE) == 302
    typo = mine.code[:5] + ALPHABET[(ALPHABET.index(mine.code[5]) + 1) % len(ALPHABET)] + mine.code[6:]
    key = app.extensions["fanbot.settings"].coupon_qr_key
    altered = qr_payload(mine.code, key).replace(mine.code, theirs.code)
    cases = {
        typo: ("mistyped", "打ち間違い"),
        new_code(): ("unknown", "見つかりません"),
        theirs.code: ("other_shop", "他の店舗"),
        altered: ("altered", "QRコードは正しくありません"),
    }
    for text, (expected, words) in cases.items():
        for path in ("/partner/check", "/partner/redeem"):
            status, html = post(client, path, text)
            assert (status, reason(html)) == (422, expected), (text, path)
            assert words in html
            # Nothing of another shop's coupon is shown.
            assert "入館料から200円引き" not in html
    # The genuine QR works.
    status, html = post(client, "/partner/check", qr_payload(mine.code, key))
    assert (status, reason(html)) == (200, "usable")
    clock.advance(hours=2)
    status, html = post(client, "/partner/redeem", qr_payload(mine.code, key))
    assert (status, reason(html)) == (422, "expired") and "有効期限が切れています" in html


def test_shop_and_admin_sessions_never_cross(
    client: FlaskClient,
    admin_client: FlaskClient,
    shops: tuple[Partner, Partner],
    session: Session,
    fan_id: str,
    clock: FrozenClock,
) -> None:
    sento, _ = shops
    coupon = _issue(session, sento, fan_id, clock)
    # Signed in as a marketer: /partner asks for a shop sign-in, and redeeming is refused.
    assert admin_client.get("/admin/").status_code == 200
    assert admin_client.get("/partner/").headers["Location"].endswith("/partner/login")
    token = form_csrf(admin_client.get("/admin/").get_data(as_text=True))
    refused = admin_client.post("/partner/redeem", data={"csrf": token, "code": coupon.code})
    assert refused.status_code == 302 and refused.headers["Location"].endswith("/partner/login")
    # Signing in as a shop ends the admin sign-in; the shop never reaches /admin.
    assert sign_in(admin_client, sento, SENTO_CODE) == 302
    assert admin_client.get("/admin/").status_code == 302
    assert "/admin/login" in admin_client.get("/admin/partners").headers["Location"]
    with Session(session.get_bind()) as fresh:
        assert fresh.get(Coupon, coupon.id).state == "issued"  # type: ignore[union-attr]


def test_a_shop_session_expires_and_ends_when_the_shop_is_deactivated(
    client: FlaskClient, shops: tuple[Partner, Partner], session: Session, clock: FrozenClock
) -> None:
    sento, cafe = shops
    assert sign_in(client, sento, SENTO_CODE) == 302
    clock.advance(hours=11, minutes=59)
    assert client.get("/partner/").status_code == 200
    clock.advance(minutes=2)
    assert client.get("/partner/").status_code == 302
    assert sign_in(client, cafe, CAFE_CODE) == 302
    stored = session.get(Partner, cafe.id)
    assert stored is not None
    stored.active = False
    session.commit()
    assert client.get("/partner/").status_code == 302
    assert sign_in(client, cafe, CAFE_CODE) == 401


def test_repeated_refusals_and_failed_sign_ins_are_slowed_down(
    client: FlaskClient, shops: tuple[Partner, Partner], session: Session, fan_id: str, clock: FrozenClock
) -> None:
    sento, cafe = shops
    coupon = _issue(session, sento, fan_id, clock)
    statuses = [sign_in(client, cafe, f"guess-{n}") for n in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    # From elsewhere, guessing the same shop's code is still throttled (the per-shop count) ...
    assert sign_in(client, cafe, CAFE_CODE, address="10.0.0.2") == 429
    # ... while another shop signs in from another address.
    assert sign_in(client, sento, SENTO_CODE, address="10.0.0.3") == 302
    refusals = [post(client, "/partner/check", new_code())[0] for _ in range(21)]
    assert refusals[:20] == [422] * 20 and refusals[20] == 429
    # Limited means limited: even the genuine code waits until the window passes.
    assert post(client, "/partner/check", coupon.code)[0] == 429
