"""The coupon as fans see it in chat: a Flex card per coupon, a carousel for 「マイクーポン」.

Built from line-bot-sdk's Flex models. The QR image is served by `bot.coupon_images` under the
app's public base URL (`Settings.image_base_url`), which real LINE requires to be HTTPS.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from linebot.v3.messaging import (
    FlexBox,
    FlexBubble,
    FlexCarousel,
    FlexComponent,
    FlexImage,
    FlexMessage,
    FlexSeparator,
    FlexText,
)

from bot.settings import Settings
from coupons.codes import format_code
from coupons.qr import qr_mac
from coupons.wallet import CAROUSEL_LIMIT, HeldCoupon

__all__ = ["CarouselTemplates", "coupon_card", "coupon_carousel", "japanese_datetime", "qr_image_url"]

TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS = "月火水木金土日"
ALT_TEXT_LIMIT = 400
MUTED = "#888888"
ACCENT = "#D9480F"


def japanese_datetime(moment: datetime) -> str:
    """``2026年12月1日（火）23:59`` in Japan time."""
    local = moment.astimezone(TOKYO)
    return f"{local.year}年{local.month}月{local.day}日（{WEEKDAYS[local.weekday()]}）{local:%H:%M}"


def qr_image_url(settings: Settings, code: str) -> str:
    """Where the coupon's QR image is served; the MAC in the path keeps other codes' images unfetchable."""
    return f"{settings.image_base_url}/coupons/qr/{code}-{qr_mac(code, settings.coupon_qr_key)}.png"


def validity_text(coupon: HeldCoupon, now: datetime) -> str:
    until = f"{japanese_datetime(coupon.expires_at)}まで"
    if now < coupon.valid_from:
        return f"{japanese_datetime(coupon.valid_from)}から{until}"
    return until


def _bubble(coupon: HeldCoupon, settings: Settings, now: datetime) -> FlexBubble:
    body: list[FlexComponent] = [
        FlexText(text=coupon.partner_name, size="sm", color=MUTED, wrap=True),
        FlexText(text=coupon.title, weight="bold", size="lg", wrap=True),
        FlexText(text=coupon.offer_text, size="md", wrap=True, color=ACCENT),
        FlexSeparator(margin="md"),
        FlexText(text=f"有効期限：{validity_text(coupon, now)}", size="sm", wrap=True, margin="md"),
        FlexText(text="クーポンコード", size="xs", color=MUTED, margin="md"),
        FlexText(text=format_code(coupon.code), size="xl", weight="bold", align="center"),
        FlexImage(
            url=qr_image_url(settings, coupon.code),
            size="lg",
            aspectRatio="1:1",
            aspectMode="fit",
            margin="md",
        ),
        FlexText(
            text="お店でこの画面をスタッフに見せてください。",
            size="xs",
            color=MUTED,
            wrap=True,
            align="center",
        ),
    ]
    if coupon.partner_address:
        body.insert(1, FlexText(text=coupon.partner_address, size="xxs", color=MUTED, wrap=True))
    if coupon.terms:
        body += [
            FlexSeparator(margin="md"),
            FlexText(text=f"ご利用条件：{coupon.terms}", size="xxs", color=MUTED, wrap=True, margin="md"),
        ]
    hero = (
        FlexImage(url=coupon.image_url, size="full", aspectRatio="20:13", aspectMode="cover")
        if coupon.image_url
        else None
    )
    return FlexBubble(hero=hero, body=FlexBox(layout="vertical", spacing="sm", contents=body))


def _alt_text(coupons: Sequence[HeldCoupon]) -> str:
    first = coupons[0]
    text = f"クーポン：{first.partner_name}「{first.title}」"
    if len(coupons) > 1:
        text += f" ほか{len(coupons) - 1}件"
    return text[:ALT_TEXT_LIMIT]


def coupon_card(coupon: HeldCoupon, settings: Settings, now: datetime) -> FlexMessage:
    """One coupon as a Flex card: shop, offer, validity, code, QR, terms."""
    return FlexMessage(altText=_alt_text([coupon]), contents=_bubble(coupon, settings, now))


def coupon_carousel(coupons: Sequence[HeldCoupon], settings: Settings, now: datetime) -> FlexMessage:
    """Several coupons (at most LINE's 12) side by side."""
    if not coupons:
        raise ValueError("a carousel needs at least one coupon")
    if len(coupons) > CAROUSEL_LIMIT:
        raise ValueError(f"LINE carousels hold at most {CAROUSEL_LIMIT} bubbles, got {len(coupons)}")
    if len(coupons) == 1:
        return coupon_card(coupons[0], settings, now)
    bubbles = [_bubble(coupon, settings, now) for coupon in coupons]
    return FlexMessage(altText=_alt_text(coupons), contents=FlexCarousel(contents=bubbles))


# Stand-in codes for `CarouselTemplates`: made anew in each process, so no real text contains one.
_STAND_IN = "X" + uuid.uuid4().hex.upper()


class CarouselTemplates:
    """`coupon_carousel` as compact JSON text, for sending the same offers to many fans.

    Fans matched by the same campaigns get the same cards but for their codes. Building and
    serialising the SDK's models costs milliseconds a fan, so the carousel is built with the
    SDK's models once per set of offers, with stand-in codes, and each fan's codes (the shown
    code and the QR image's address) are pasted into that text. The result is exactly
    ``json.dumps(coupon_carousel(coupons, settings, now).to_dict(), ensure_ascii=False,
    separators=(",", ":"))``; should a stand-in code ever end up elsewhere in a card, the card
    is built with the models for that fan instead.
    """

    def __init__(self, settings: Settings, now: datetime) -> None:
        self._settings = settings
        self._now = now
        self._templates: dict[tuple[HeldCoupon, ...], str | None] = {}

    def json(self, coupons: Sequence[HeldCoupon]) -> str:
        key = tuple(replace(coupon, code="") for coupon in coupons)
        if key not in self._templates:
            stand_ins = [replace(coupon, code=f"{_STAND_IN}{n:02d}") for n, coupon in enumerate(coupons)]
            text = self._build(stand_ins)
            for coupon in stand_ins:
                text = text.replace(self._quoted(qr_image_url(self._settings, coupon.code)), "\0")
                text = text.replace(self._quoted(format_code(coupon.code)), "\0")
            # Each stand-in must be in exactly the two places pasted below, and nowhere else.
            self._templates[key] = None if _STAND_IN in text else self._build(stand_ins)
        template = self._templates[key]
        if template is None:
            return self._build(list(coupons))
        for n, coupon in enumerate(coupons):
            stand_in = f"{_STAND_IN}{n:02d}"
            template = template.replace(
                self._quoted(qr_image_url(self._settings, stand_in)),
                self._quoted(qr_image_url(self._settings, coupon.code)),
            ).replace(self._quoted(format_code(stand_in)), self._quoted(format_code(coupon.code)))
        return template

    def _build(self, coupons: list[HeldCoupon]) -> str:
        card = coupon_carousel(coupons, self._settings, self._now)
        return json.dumps(card.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def _quoted(value: str) -> str:
        # A whole JSON string, quotes included, so only whole values are ever replaced.
        return json.dumps(value, ensure_ascii=False)
