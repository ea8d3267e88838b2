"""The whole product as `make run` serves it, driven by a person in headless Chromium."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.commands.run import build_dev_app
from bot.emulator.server import EmulatorServer
from bot.settings import Settings
from data.database import normalize_url
from data.models import Fan
from tests.conftest import ACCESS_TOKEN, CHANNEL_SECRET

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT_DIR = Path(os.environ.get("FANBOT_SCREENSHOT_DIR", "/tmp"))


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Product:
    url: str
    app: Flask
    database_url: str

    def fans(self) -> list[Fan]:
        engine = create_engine(normalize_url(self.database_url))
        with Session(engine) as session:
            fans = list(session.scalars(select(Fan).where(Fan.source == "line").order_by(Fan.id)))
        engine.dispose()
        return fans


@pytest.fixture
def product(database_url: str) -> Iterator[Product]:
    """`make run`'s composition: the bot with the emulator mounted at /emulator, on a real port."""
    port = free_port()
    settings = Settings(
        line_channel_secret=CHANNEL_SECRET,
        line_channel_access_token=ACCESS_TOKEN,
        database_url=database_url,
        line_api_base_url=f"http://127.0.0.1:{port}/emulator",
        port=port,
    )
    app = build_dev_app(settings)
    with EmulatorServer(app.wsgi_app, port=port):
        yield Product(f"http://127.0.0.1:{port}", app, database_url)
    emulator = app.extensions["line_emulator_app"]
    emulator.extensions["line_emulator_sender"].close()
    app.extensions["fanbot.line_client"].close()
    app.extensions["fanbot.db"].dispose()
    assert emulator.extensions["line_emulator"].violations == []


@pytest.fixture
def page(product: Product) -> Iterator[object]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        yield page
        browser.close()


def test_newcomer_follows_in_the_emulator_agrees_and_consent_is_stored(
    product: Product, page: object
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(product.url + "/emulator/")
    page.fill("#new-fan-name", "佐藤 一郎")
    page.click("text=新しいファンを作る")
    page.click("#btn-follow")
    expect(page.locator("#webhook-status")).to_have_text("webhook: 200")
    expect(page.locator(".row.bot .bubble").first).to_contain_text("友だち追加ありがとうございます")
    expect(page.locator(".row.bot .bubble").nth(1)).to_contain_text("同意しますか")
    expect(page.locator("#quick-replies button")).to_have_count(2)
    page.click("#quick-replies >> text=同意する")
    expect(page.locator(".row.user .bubble").last).to_have_text("同意する")
    expect(page.locator(".row.bot .bubble", has_text="ご同意ありがとうございます")).to_have_count(1)
    page.screenshot(path=str(SCREENSHOT_DIR / "fanbot-e2e-consent.png"), full_page=True)
    fans = product.fans()
    assert len(fans) == 1
    assert fans[0].consented_at is not None
    assert fans[0].consent_version == "2026-11"
