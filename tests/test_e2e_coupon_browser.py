"""From the demo campaign to the shop counter, as `make run` serves it, in headless Chromium.

A demo fan finds the coupon card in the emulator's chat, taps マイクーポン and sees it again; the
shop signs in on /partner in a phone-sized window, types the code, redeems it, is refused the
second time with the reason, and the fan's thank-you message arrives in the chat.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.demo_coupons import (
    DEMO_SHOP_CODE,
    DEMO_SHOP_NAME,
    add_demo_fans_to_emulator,
    seed_demo_coupons,
    send_demo_campaign,
)
from bot.line_client import LineClient
from bot.richmenu import setup_rich_menu
from coupons.codes import format_code
from coupons.models import Coupon
from coupons.qr import qr_png
from data.catalog import load_catalog
from data.database import normalize_url
from data.models import Fan, utcnow
from tests.test_e2e_browser import CHROMIUM, SCREENSHOT_DIR, Product, product, require_chromium  # noqa: F401
from tests.viewport import PHONE

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(product: Product) -> Iterator[Browser]:  # noqa: F811
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


def _demo_coupon(product: Product) -> tuple[str, str]:  # noqa: F811
    """Seed the demo as `make run` does; return a demo fan who got a coupon, and its code."""
    settings = product.app.extensions["fanbot.settings"]
    engine = create_engine(normalize_url(product.database_url))
    with Session(engine) as session:
        demo = seed_demo_coupons(session, load_catalog(), settings.consent_version, utcnow())
        session.commit()
    add_demo_fans_to_emulator(product.app)
    client = LineClient(settings)
    setup_rich_menu(client)  # as `make run` does, so the fan can tap マイクーポン
    client.close()
    report = send_demo_campaign(settings, load_catalog(), demo.campaign_id, utcnow())
    assert report.sent >= 1 and report.sent + report.holdout == 4
    with Session(engine) as session:
        user_id, code = session.execute(
            select(Fan.line_user_id, Coupon.code)
            .join(Fan, Fan.id == Coupon.fan_id)
            .order_by(Coupon.id)
            .limit(1)
        ).one()
    engine.dispose()
    assert user_id is not None
    return user_id, code


def test_a_demo_fan_gets_the_card_and_the_shop_redeems_it_once(
    product: Product,  # noqa: F811
    browser: Browser,
) -> None:
    from playwright.sync_api import expect

    user_id, code = _demo_coupon(product)
    shown_code = format_code(code)

    fan = browser.new_page(viewport=PHONE)
    fan.goto(f"{product.url}/emulator/")
    fan.click(f'[data-user-id="{user_id}"]')
    card = fan.locator(".flex-message", has_text=shown_code)
    expect(card).to_have_count(1)
    expect(card).to_contain_text("入館料から200円引き")
    expect(card).to_contain_text(DEMO_SHOP_NAME)
    expect(card).to_contain_text("有効期限：")
    qr = card.locator("img.flex-image").last
    expect(qr).to_be_visible()
    fan.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    fan.screenshot(path=str(SCREENSHOT_DIR / "fanbot-coupon-1-card.png"))

    if fan.locator("#rich-menu-frame").is_hidden():
        fan.click("#rich-menu-bar")
    fan.get_by_role("button", name="マイクーポン").click()
    expect(fan.locator(".row.bot .bubble", has_text="お持ちのクーポンです")).to_have_count(1)
    expect(fan.locator(".flex-message", has_text=shown_code)).to_have_count(2)
    fan.screenshot(path=str(SCREENSHOT_DIR / "fanbot-coupon-2-my-coupons.png"))

    shop = browser.new_page(viewport=PHONE)
    shop.goto(f"{product.url}/partner/")
    shop.select_option("#shop", label=DEMO_SHOP_NAME)
    shop.fill("#access_code", DEMO_SHOP_CODE)
    shop.click("button:has-text('ログイン')")
    expect(shop.locator(".shop")).to_contain_text(DEMO_SHOP_NAME)
    shop.fill("#code", shown_code.lower())
    shop.click("button:has-text('確認する')")
    expect(shop.locator(".result")).to_contain_text("ご利用いただけるクーポンです")
    expect(shop.locator(".result")).to_contain_text("入館料から200円引き")
    shop.screenshot(path=str(SCREENSHOT_DIR / "fanbot-coupon-3-shop-check.png"), full_page=True)
    shop.click("button:has-text('利用する')")
    expect(shop.locator(".result.ok")).to_contain_text("利用を受け付けました。")
    expect(shop.locator(".shop")).to_contain_text("本日の利用 1 件")

    shop.fill("#code", shown_code)
    shop.click("button:has-text('確認する')")
    refused = shop.locator(".result.refused")
    expect(refused).to_contain_text("このクーポンは利用済みです（")
    expect(shop.locator("button:has-text('利用する')")).to_have_count(0)
    shop.screenshot(path=str(SCREENSHOT_DIR / "fanbot-coupon-4-shop-refused.png"), full_page=True)
    assert shop.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    expect(fan.locator(".row.bot .bubble", has_text="クーポンをご利用いただきました")).to_have_count(1)
    fan.screenshot(path=str(SCREENSHOT_DIR / "fanbot-coupon-5-thanks.png"))


def _camera_file(png: bytes, path: Path) -> Path:
    """An MJPEG 'camera' showing the QR, for Chromium's fake capture device."""
    from PIL import Image

    qr = Image.open(io.BytesIO(png)).convert("RGB")
    frame = Image.new("RGB", (640, 480), "white")
    side = min(420, qr.width)
    frame.paste(qr.resize((side, side)), ((640 - side) // 2, (480 - side) // 2))
    buffer = io.BytesIO()
    frame.save(buffer, format="JPEG", quality=90)
    path.write_bytes(buffer.getvalue() * 30)
    return path


def test_the_shop_scans_the_coupon_qr_with_the_phone_camera(
    product: Product,  # noqa: F811
    tmp_path: Path,
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    _, code = _demo_coupon(product)
    settings = product.app.extensions["fanbot.settings"]
    camera = _camera_file(qr_png(code, settings.coupon_qr_key), tmp_path / "camera.mjpeg")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={camera}",
            ],
        )
        context = browser.new_context(viewport=PHONE, permissions=["camera"])
        shop = context.new_page()
        shop.goto(f"{product.url}/partner/")
        shop.select_option("#shop", label=DEMO_SHOP_NAME)
        shop.fill("#access_code", DEMO_SHOP_CODE)
        shop.click("button:has-text('ログイン')")
        shop.click("#scan-start")
        # jsQR reads the frame, the page submits the QR's content: the coupon shows as usable.
        expect(shop.locator(".result.ok")).to_contain_text("ご利用いただけるクーポンです", timeout=20_000)
        expect(shop.locator(".result .code")).to_have_text(format_code(code))
        shop.click("button:has-text('利用する')")
        expect(shop.locator(".result.ok")).to_contain_text("利用を受け付けました。")
        browser.close()
