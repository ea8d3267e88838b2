"""The post-game job's cards from templates are exactly the cards the SDK's models build."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot import coupon_cards
from bot.coupon_cards import CarouselTemplates, coupon_carousel
from bot.settings import Settings
from coupons.codes import new_code
from coupons.wallet import HeldCoupon

NOW = datetime(2026, 11, 28, 8, 30, tzinfo=UTC)
SETTINGS = Settings(
    line_channel_secret="s", line_channel_access_token="t", public_base_url="https://fanbot.example"
)
BATH = HeldCoupon(
    code="AAAABBBBCCCCDD",
    partner_name="仙台の湯",
    partner_address="仙台市青葉区1-2-3",
    title="入浴200円引き",
    offer_text="入館料から200円引き",
    terms="お一人様1回限り",
    image_url="https://fanbot.example/img/bath.png",
    valid_from=NOW,
    expires_at=NOW + timedelta(hours=48),
)
# No address, no terms, no image, not valid yet: every optional part of a card left out or changed.
DRINK = replace(
    BATH,
    partner_name='カフェ "ONE"',
    partner_address="",
    title="ドリンク1杯無料",
    terms="",
    image_url=None,
    valid_from=NOW + timedelta(days=1),
)


def sdk_json(coupons: list[HeldCoupon]) -> str:
    card = coupon_carousel(coupons, SETTINGS, NOW)
    return json.dumps(card.to_dict(), ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("offers", [[BATH], [DRINK], [BATH, DRINK], [DRINK, BATH, BATH]])
def test_each_fans_cards_equal_the_sdk_built_ones(offers: list[HeldCoupon]) -> None:
    templates = CarouselTemplates(SETTINGS, NOW)
    for _ in range(3):  # the first fan builds the template, the others reuse it
        coupons = [replace(offer, code=new_code()) for offer in offers]
        text = templates.json(coupons)
        assert text == sdk_json(coupons)
        for coupon in coupons:
            assert coupon.code in text


def test_different_offers_get_different_templates() -> None:
    templates = CarouselTemplates(SETTINGS, NOW)
    first, other = replace(BATH, code=new_code()), replace(BATH, code=new_code(), title="入浴300円引き")
    assert templates.json([first]) == sdk_json([first])
    assert templates.json([other]) == sdk_json([other])
    assert "入浴300円引き" in templates.json([other])


def test_a_stand_in_code_found_elsewhere_in_a_card_falls_back_to_the_models(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Were the code ever shown a third way (here: in the alt text), pasting two places would
    # leave the stand-in in the card: the template is refused and each card built in full.
    original = coupon_cards._alt_text
    monkeypatch.setattr(coupon_cards, "_alt_text", lambda coupons: original(coupons) + coupons[0].code)
    templates = CarouselTemplates(SETTINGS, NOW)
    coupon = replace(BATH, code=new_code())
    text = templates.json([coupon])
    assert text == sdk_json([coupon])
    assert coupon_cards._STAND_IN not in text
