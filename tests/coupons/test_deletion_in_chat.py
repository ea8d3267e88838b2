"""Deleting one's data in chat voids the fan's unused coupons in the same transaction."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from coupons.issue import issue_coupon
from coupons.models import Campaign, Coupon, LookalikeScore
from coupons.partners import create_partner
from coupons.redeem import redeem
from coupons.scores import FanScore, store_scores
from tests.conftest import FrozenClock
from tests.conversation.conftest import Store, consented_fan, last, tap
from tests.line_driver import LineDriver


def test_a_fan_who_deletes_their_data_in_chat_holds_no_working_coupon(
    app: Flask, line: LineDriver, clock: FrozenClock
) -> None:
    store = Store(app)
    user, _ = consented_fan(line)
    fan = store.fan(user)
    assert fan is not None
    with store.database.transaction() as session:
        shop = create_partner(session, name="湯の郷", access_code="sento-2026", now=clock())
        campaign = Campaign(
            partner_id=shop.id,
            title="入浴 200円引き",
            offer_text="入館料から200円引き",
            valid_hours=48,
            total_cap=10,
            state="active",
            created_at=clock(),
            updated_at=clock(),
        )
        session.add(campaign)
        session.flush()
        coupon = issue_coupon(session, campaign.id, fan.id, clock()).coupon
        assert coupon is not None
        code, shop_id = coupon.code, shop.id
        store_scores(
            session,
            "likes_super_sento",
            {fan.id: FanScore(0.8, [{"item": "live_games_per_year", "answer": 12.0, "contribution": 0.9}])},
            run_at=clock(),
            auc=0.7,
        )
    tap(line, user, last(line.text(user, "データ削除")), "はい、削除する")
    with store.database.transaction() as session:
        assert session.scalars(select(Coupon.state)).all() == ["void"]
        assert redeem(session, code, shop_id, clock() + timedelta(minutes=1)).reason == "unknown"
        # The score's reasons repeat the fan's answers: they are gone with them.
        assert session.scalars(select(LookalikeScore)).all() == []
