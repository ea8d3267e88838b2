"""The coupon QR (a MAC over the code) and the fan's list of usable coupons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from coupons.codes import format_code
from coupons.issue import issue_coupon
from coupons.models import Campaign, Coupon, Partner
from coupons.qr import PREFIX, AlteredQRError, qr_payload, qr_png, read_scanned
from coupons.redeem import redeem
from coupons.wallet import CAROUSEL_LIMIT, usable_coupons
from data.models import Fan
from tests.coupons.conftest import NOW

KEY = b"k" * 32


def _coupon(db_session: Session, campaign: Campaign, fan: Fan) -> Coupon:
    result = issue_coupon(db_session, campaign.id, fan.id, NOW)
    db_session.commit()
    assert result.coupon is not None
    return result.coupon


def test_a_scanned_qr_gives_its_code_and_a_typed_code_is_read_as_typed() -> None:
    payload = qr_payload("ABCDEFGHJKMNPQ", KEY)
    assert payload.startswith(PREFIX)
    assert read_scanned(payload, KEY) == "ABCDEFGHJKMNPQ"
    assert read_scanned(" abcd-efgh-jkmn-pq ", KEY) == "ABCDEFGHJKMNPQ"


@pytest.mark.parametrize(
    "alter",
    [
        lambda p: p.replace("ABCD", "ABCE"),  # another code, same MAC
        lambda p: p[:-1] + ("A" if p[-1] != "A" else "B"),  # MAC edited
        lambda p: p.rsplit(":", 1)[0],  # MAC removed
        lambda p: PREFIX + "ABCDEFGHJKMNPQ:" + qr_payload("ABCDEFGHJKMNPQ", b"other-key").rsplit(":", 1)[1],
    ],
)
def test_an_altered_qr_is_refused(alter: Callable[[str], str]) -> None:
    with pytest.raises(AlteredQRError):
        read_scanned(alter(qr_payload("ABCDEFGHJKMNPQ", KEY)), KEY)


def test_the_qr_png_is_an_image_of_the_payload() -> None:
    png = qr_png("ABCDEFGHJKMNPQ", KEY)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 200


def test_redeeming_by_qr_and_refusing_an_altered_one(
    db_session: Session,
    partner: Partner,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    campaign = make_campaign()
    coupon, other = _coupon(db_session, campaign, make_fan()), _coupon(db_session, campaign, make_fan())
    forged = qr_payload(coupon.code, KEY).replace(coupon.code, other.code)
    refused = redeem(db_session, forged, partner.id, NOW, qr_key=KEY)
    assert refused.reason == "altered" and "QRコード" in refused.message
    assert redeem(db_session, qr_payload(coupon.code, KEY), partner.id, NOW, qr_key=KEY).ok
    # Typing still works on the same page.
    assert redeem(db_session, format_code(other.code), partner.id, NOW, qr_key=KEY).ok


def test_usable_coupons_soonest_expiry_first_without_used_or_expired(
    db_session: Session,
    partner: Partner,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    fan = make_fan()
    long = _coupon(db_session, make_campaign(title="長い", valid_hours=100), fan)
    short = _coupon(db_session, make_campaign(title="短い", valid_hours=10), fan)
    used = _coupon(db_session, make_campaign(title="使用済み", valid_hours=50), fan)
    expired = _coupon(db_session, make_campaign(title="期限切れ", valid_hours=1), fan)
    _coupon(db_session, make_campaign(title="他の人"), make_fan())
    assert redeem(db_session, used.code, partner.id, NOW).ok
    db_session.commit()
    later = NOW + timedelta(hours=1)
    shown = usable_coupons(db_session, fan.id, later)
    assert [c.code for c in shown] == [short.code, long.code]
    assert expired.code not in [c.code for c in shown]
    assert shown[0].partner_name == partner.name and shown[0].title == "短い"
    # One second before the short one expires it is still listed; at its end it is not.
    assert short.code in [
        c.code for c in usable_coupons(db_session, fan.id, short.expires_at - timedelta(seconds=1))
    ]
    assert short.code not in [c.code for c in usable_coupons(db_session, fan.id, short.expires_at)]


def test_usable_coupons_stop_at_the_carousel_limit(
    db_session: Session,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    fan = make_fan()
    for hours in range(CAROUSEL_LIMIT + 2):
        _coupon(db_session, make_campaign(title=f"クーポン{hours}", valid_hours=hours + 1), fan)
    shown = usable_coupons(db_session, fan.id, NOW)
    assert len(shown) == CAROUSEL_LIMIT
    assert [c.title for c in shown] == [f"クーポン{h}" for h in range(CAROUSEL_LIMIT)]
