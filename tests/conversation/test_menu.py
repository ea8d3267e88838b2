"""Rich-menu areas and keywords: settings and my coupons."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.postback import encode
from coupons.codes import format_code
from coupons.issue import issue_coupon
from coupons.models import Campaign
from coupons.partners import create_partner
from data.models import Fan
from tests.conftest import FrozenClock
from tests.conversation.conftest import button_labels, last
from tests.line_driver import LineDriver, quick_replies, texts


@pytest.mark.parametrize("how", ["postback", "keyword"])
def test_settings_offer_only_opt_out_while_pushes_are_on(line: LineDriver, fan_id: str, how: str) -> None:
    replies = line.postback(fan_id, encode("settings")) if how == "postback" else line.text(fan_id, "設定")
    assert texts(replies) == ["設定メニューです（お知らせ：配信中）。ボタンを選んでください。"]
    actions = quick_replies(last(replies))
    assert [(a["type"], a["text"]) for a in actions] == [
        ("message", "配信停止"),
        ("message", "回答変更"),
        ("message", "データ削除"),
    ]


def test_settings_offer_only_opt_in_once_pushes_are_stopped(line: LineDriver, fan_id: str) -> None:
    line.text(fan_id, "配信停止")
    replies = line.text(fan_id, "設定")
    assert "お知らせ：停止中" in texts(replies)[0]
    assert button_labels(last(replies)) == ["配信再開", "回答変更", "データ削除"]


@pytest.mark.parametrize("how", ["postback", "keyword"])
def test_my_coupons_says_honestly_there_are_none_yet(line: LineDriver, fan_id: str, how: str) -> None:
    replies = (
        line.postback(fan_id, encode("coupons")) if how == "postback" else line.text(fan_id, "マイクーポン")
    )
    assert texts(replies)[0].startswith("現在お持ちのクーポンはありません。")


def test_my_coupons_without_consent_asks_for_consent(line: LineDriver) -> None:
    user = line.new_fan()
    line.follow(user)
    replies = line.postback(user, encode("coupons"))
    assert button_labels(last(replies)) == ["同意する", "今はしない"]


def _hold_coupons(session: Session, user_id: str, now: datetime, hours: list[int]) -> list[str]:
    """Give the fan one issued coupon per entry of ``hours`` (its validity); return the codes."""
    fan = session.scalars(select(Fan).where(Fan.line_user_id == user_id)).one()
    shop = create_partner(
        session, name="湯の郷 アリーナ前店", access_code="sento-2026", now=now, address="青葉区1-1"
    )
    codes = []
    for number, valid in enumerate(hours):
        campaign = Campaign(
            partner_id=shop.id,
            title=f"入浴200円引き{number}",
            offer_text="入館料から200円引き",
            terms="お一人様1回",
            valid_hours=valid,
            total_cap=10,
            target_rule={},
            holdout_share=0.0,
            state="active",
            created_at=now,
            updated_at=now,
        )
        session.add(campaign)
        session.flush()
        result = issue_coupon(session, campaign.id, fan.id, now)
        assert result.coupon is not None
        codes.append(result.coupon.code)
    session.commit()
    return codes


def test_my_coupons_shows_held_coupons_as_cards_soonest_expiry_first(
    line: LineDriver, fan_id: str, session: Session, clock: FrozenClock
) -> None:
    codes = _hold_coupons(session, fan_id, clock.current, [72, 24])
    replies = line.text(fan_id, "マイクーポン")
    assert texts(replies)[0].startswith("お持ちのクーポンです")
    card = replies[1]
    assert card["type"] == "flex" and card["contents"]["type"] == "carousel"
    bubbles = card["contents"]["contents"]
    shown = [json.dumps(b, ensure_ascii=False) for b in bubbles]
    assert [format_code(codes[1]) in shown[0], format_code(codes[0]) in shown[1]] == [True, True]
    assert "有効期限：" in shown[0] and "ご利用条件：お一人様1回" in shown[0]
    qr = next(c for c in bubbles[0]["body"]["contents"] if c["type"] == "image")["url"]
    assert qr.endswith(".png") and codes[1] in qr


def test_my_coupons_leaves_out_used_and_expired_ones(
    line: LineDriver, fan_id: str, session: Session, clock: FrozenClock
) -> None:
    (code,) = _hold_coupons(session, fan_id, clock.current, [1])
    clock.advance(hours=1)
    assert texts(line.text(fan_id, "マイクーポン"))[0].startswith("現在お持ちのクーポンはありません。")
    assert code not in json.dumps(line.text(fan_id, "マイクーポン"))


def test_a_single_coupon_is_one_card_and_its_qr_image_is_served(
    line: LineDriver, fan_id: str, session: Session, clock: FrozenClock, client: FlaskClient
) -> None:
    (code,) = _hold_coupons(session, fan_id, clock.current, [5])
    card = line.text(fan_id, "マイクーポン")[1]
    assert card["contents"]["type"] == "bubble"
    qr = next(c for c in card["contents"]["body"]["contents"] if c["type"] == "image")["url"]
    path = qr.split("://", 1)[1].split("/", 1)[1]
    image = client.get("/" + path)
    assert image.status_code == 200 and image.mimetype == "image/png"
    # Another path (a guessed code, an edited MAC) gives nothing.
    assert client.get("/" + path.replace(code, code[::-1])).status_code == 404
    assert client.get("/" + path[:-5] + "A.png").status_code in (404,)
