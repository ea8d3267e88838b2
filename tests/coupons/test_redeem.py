"""Redemption at the shop: once, at its own partner, inside its window; every refusal says why."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from coupons.codes import ALPHABET, format_code
from coupons.issue import issue_coupon
from coupons.models import Campaign, Coupon, Partner
from coupons.partners import check_access_code, create_partner
from coupons.redeem import forget_fan, redeem
from data.models import Fan
from data.privacy import delete_fan_data
from tests.coupons.conftest import NOW


def _coupon(db_session: Session, campaign: Campaign, fan: Fan) -> Coupon:
    result = issue_coupon(db_session, campaign.id, fan.id, NOW)
    db_session.commit()
    assert result.coupon is not None
    return result.coupon


def test_a_code_redeems_once_and_the_second_attempt_says_when_it_was_used(
    db_session: Session,
    partner: Partner,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    coupon = _coupon(db_session, make_campaign(), make_fan())
    first = redeem(db_session, format_code(coupon.code).lower(), partner.id, NOW + timedelta(hours=1))
    db_session.commit()
    assert first.ok and first.reason == "redeemed"
    second = redeem(db_session, coupon.code, partner.id, NOW + timedelta(hours=2))
    assert not second.ok and second.reason == "used"
    assert second.message == "このクーポンは利用済みです（2026年11月28日 22:30）。"


def test_validity_edges_one_second_on_each_side(
    db_session: Session,
    partner: Partner,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    start, end = NOW + timedelta(days=1), NOW + timedelta(days=3)
    campaign = make_campaign(valid_hours=None, valid_from=start, valid_until=end)
    early, late, first, last = (_coupon(db_session, campaign, make_fan()) for _ in range(4))
    second = timedelta(seconds=1)
    assert redeem(db_session, early.code, partner.id, start - second).reason == "not_yet"
    assert redeem(db_session, first.code, partner.id, start).reason == "redeemed"
    assert redeem(db_session, last.code, partner.id, end - second).reason == "redeemed"
    expired = redeem(db_session, late.code, partner.id, end)
    assert expired.reason == "expired"
    assert expired.message == "このクーポンは有効期限が切れています（2026年12月1日 21:30まで）。"


def test_another_shops_code_is_refused_and_stays_usable_at_its_own(
    db_session: Session,
    partner: Partner,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    coupon = _coupon(db_session, make_campaign(), make_fan())
    other = create_partner(db_session, name="カフェ ブザービーター", access_code="cafe-2026!", now=NOW)
    db_session.commit()
    refused = redeem(db_session, coupon.code, other.id, NOW)
    assert refused.reason == "other_shop" and refused.message == "このクーポンは他の店舗のものです。"
    assert redeem(db_session, coupon.code, partner.id, NOW).ok


def test_a_typo_is_told_apart_from_an_unknown_code(
    db_session: Session,
    partner: Partner,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    coupon = _coupon(db_session, make_campaign(), make_fan())
    wrong = ALPHABET[(ALPHABET.index(coupon.code[3]) + 1) % len(ALPHABET)]
    typo = coupon.code[:3] + wrong + coupon.code[4:]
    assert redeem(db_session, typo, partner.id, NOW).reason == "mistyped"
    assert redeem(db_session, "hello", partner.id, NOW).reason == "mistyped"
    from coupons.codes import new_code

    assert redeem(db_session, new_code(), partner.id, NOW).reason == "unknown"


def test_a_deleted_fans_coupon_stops_working_and_the_shop_sees_unknown(
    db_session: Session,
    partner: Partner,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    fan = make_fan()
    campaign = make_campaign()
    coupon = _coupon(db_session, campaign, fan)
    used = _coupon(db_session, make_campaign(title="別のクーポン"), fan)
    assert redeem(db_session, used.code, partner.id, NOW).ok
    db_session.commit()
    fan_id = fan.id
    delete_fan_data(db_session, fan, NOW)
    assert forget_fan(db_session, fan_id) == 1
    db_session.commit()
    assert redeem(db_session, coupon.code, partner.id, NOW).reason == "unknown"
    # The rows stay, without the fan: issued and redeemed counts remain for reports.
    states = sorted(db_session.scalars(select(Coupon.state).where(Coupon.partner_id == partner.id)))
    assert states == ["redeemed", "void"]
    assert db_session.scalars(select(Coupon.fan_id).where(Coupon.partner_id == partner.id)).all() == [
        None,
        None,
    ]


def test_fifty_concurrent_attempts_on_one_code_yield_exactly_one_success(
    engine: Engine,
    db_session: Session,
    partner: Partner,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    coupon = _coupon(db_session, make_campaign(), make_fan())
    start = threading.Barrier(50)

    def attempt(_: int) -> str:
        start.wait()
        with Session(engine) as session:
            result = redeem(session, coupon.code, partner.id, NOW + timedelta(minutes=5))
            session.commit()
            return result.reason

    with ThreadPoolExecutor(max_workers=50) as pool:
        reasons = list(pool.map(attempt, range(50)))
    assert reasons.count("redeemed") == 1
    assert reasons.count("used") == 49


def test_staff_access_code_is_stored_hashed_and_checked(db_session: Session, partner: Partner) -> None:
    assert "sento-2026" not in partner.access_code_hash
    assert check_access_code(partner, "sento-2026")
    assert not check_access_code(partner, "sento-2027")
    partner.active = False
    assert not check_access_code(partner, "sento-2026")
