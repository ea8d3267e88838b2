"""The whole product as `make run` serves it, driven by a person in headless Chromium."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bot.commands.run import build_dev_app
from bot.settings import Settings
from data.database import normalize_url
from data.models import Fan
from line_emulator.server import EmulatorServer
from tests.conftest import ACCESS_TOKEN, CHANNEL_SECRET

if TYPE_CHECKING:
    from playwright.sync_api import Page

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
    _open_new_fan(page, product.url, "佐藤 一郎")
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


def _open_new_fan(page: Page, url: str, name: str) -> None:
    """Create a fan in the emulator page and follow the account."""
    page.goto(url + "/emulator/")
    page.fill("#new-fan-name", name)
    page.click("text=新しいファンを作る")
    page.click("#btn-follow")


def _then_bot_replies(page: Page, action: Callable[[], None]) -> None:
    """Do ``action`` and wait until the bot's answer shows."""
    before = page.locator(".row.bot").count()
    action()
    page.wait_for_function(f"document.querySelectorAll('.row.bot').length > {before}")


def _tap(page: Page, label: str | None = None, *, index: int = 0) -> None:
    """Tap a quick-reply button (by label, else by position) and wait for the bot's answer."""
    buttons = page.locator("#quick-replies button")
    button = buttons.filter(has_text=label).first if label else buttons.nth(index)
    _then_bot_replies(page, button.click)


def _say(page: Page, text: str) -> None:
    def send() -> None:
        page.fill("#composer-text", text)
        page.keyboard.press("Enter")

    _then_bot_replies(page, send)


def test_fan_answers_two_rounds_changes_an_answer_opts_out_and_in_and_deletes_data(
    product: Product, page: object
) -> None:
    from playwright.sync_api import Page, expect

    from data.models import Answer

    assert isinstance(page, Page)
    _open_new_fan(page, product.url, "鈴木 二郎")
    expect(page.locator("#quick-replies button")).to_have_count(2)
    _tap(page, "同意する")
    last_bot = page.locator(".row.bot .bubble").last
    expect(last_bot).to_contain_text("【Q1/5】")

    for _ in range(5):  # first round: always the first button (はい, or the lowest count)
        _tap(page)
    expect(last_bot).to_contain_text("これまでに5問")
    _tap(page, "続けて答える")
    for _ in range(5):
        _tap(page)
    expect(last_bot).to_contain_text("これまでに10問")
    engine = create_engine(normalize_url(product.database_url))

    def answers() -> dict[str, float]:
        with Session(engine) as db:
            fan = db.scalars(select(Fan).where(Fan.source == "line")).one()
            return {a.item_id: a.value for a in db.scalars(select(Answer).where(Answer.fan_id == fan.id))}

    assert len(answers()) == 10

    _say(page, "回答変更")
    _tap(page, "最近の回答")
    _tap(page)  # the most recent answer
    before_change = answers()
    # Round answers were the first button (はい, or the lowest count): pick something else.
    if page.locator("#quick-replies button", has_text="いいえ").count():
        _tap(page, "いいえ")
    else:
        _tap(page, index=1)
    after_change = answers()
    assert after_change.keys() == before_change.keys()
    assert sum(after_change[k] != before_change[k] for k in after_change) == 1

    _say(page, "配信停止")
    expect(last_bot).to_contain_text("停止")
    assert product.fans()[0].opted_out_at is not None
    _say(page, "配信再開")
    expect(last_bot).to_contain_text("配信を再開しました")
    assert product.fans()[0].opted_out_at is None

    _say(page, "データ削除")
    _tap(page, "はい、削除する")
    expect(last_bot).to_contain_text("削除")
    page.screenshot(path=str(SCREENSHOT_DIR / "fanbot-e2e-survey.png"), full_page=True)
    assert product.fans() == [] or all(f.line_user_id is None for f in product.fans())
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(Answer)) == 0
    engine.dispose()


def test_at_phone_size_a_fan_answers_by_tap_and_by_typing_and_returns_from_my_coupons(
    product: Product, page: object
) -> None:
    """The Done-when of issue 13: after every step the newest message and its quick replies are in view."""
    from playwright.sync_api import Page, expect

    from bot.line_client import LineClient
    from bot.richmenu import setup_rich_menu
    from bot.survey import install_priority_provider
    from data.models import Answer
    from tests.viewport import DESKTOP, PHONE, assert_composer_usable, assert_newest_in_view

    assert isinstance(page, Page)
    # The round: two yes/no questions, then a count question to answer by typing.
    round_items = ["likes_super_sento", "watches_sports_live_yearly", "live_games_per_year", "likes_sauna"]
    install_priority_provider(product.app, lambda _session: list(round_items))
    client = LineClient(product.app.extensions["fanbot.settings"])
    try:
        setup_rich_menu(client)  # as `make run` does
    finally:
        client.close()
    page.set_viewport_size(PHONE)
    last_bot = page.locator(".row.bot .bubble").last

    _open_new_fan(page, product.url, "高橋 さくら")
    expect(last_bot).to_contain_text("同意しますか")
    expect(page.locator("#fan-list")).to_be_hidden()
    assert_newest_in_view(page)
    assert_composer_usable(page)
    page.screenshot(path=str(SCREENSHOT_DIR / "fanbot-phone-1-follow.png"))

    _tap(page, "同意する")
    expect(last_bot).to_contain_text("【Q1/5】")
    assert_newest_in_view(page)

    _tap(page, "はい")
    expect(last_bot).to_contain_text("【Q2/5】")
    assert_newest_in_view(page)
    _tap(page, "いいえ")
    expect(last_bot).to_contain_text("【Q3/5】\n現地でみる頻度は？")
    assert_newest_in_view(page)
    page.screenshot(path=str(SCREENSHOT_DIR / "fanbot-phone-2-count-question.png"))

    _say(page, "12回")
    expect(last_bot).to_contain_text("【Q4/5】")
    assert_newest_in_view(page)
    assert_composer_usable(page)

    # マイクーポン from the rich menu (typing folded it away, as the phone's keyboard does).
    if page.locator("#rich-menu-frame").is_hidden():
        page.click("#rich-menu-bar")
    coupons = page.get_by_role("button", name="マイクーポン")
    expect(coupons).to_be_in_viewport()
    _then_bot_replies(page, coupons.click)
    expect(last_bot).to_have_text("アンケートの途中です（4/5問目）。続きに答えますか？")
    expect(page.locator(".row.bot .bubble", has_text="現在お持ちのクーポンはありません")).to_have_count(1)
    assert_newest_in_view(page)
    page.screenshot(path=str(SCREENSHOT_DIR / "fanbot-phone-3-coupons-mid-round.png"))

    _tap(page, "続きに答える")
    expect(page.locator(".row.user .bubble").last).to_have_text("続きに答えます")
    expect(last_bot).to_contain_text("アンケートの続きです。")
    expect(last_bot).to_contain_text("【Q4/5】\nサウナが好き")
    assert_newest_in_view(page)

    _tap(page, "はい")
    expect(last_bot).to_contain_text("【Q5/5】")
    assert_newest_in_view(page)
    _tap(page, index=0)
    expect(last_bot).to_contain_text("これまでに5問にお答えいただきました")
    assert_newest_in_view(page)
    page.screenshot(path=str(SCREENSHOT_DIR / "fanbot-phone-4-round-done.png"))

    engine = create_engine(normalize_url(product.database_url))
    with Session(engine) as db:
        stored = {a.item_id: a.value for a in db.scalars(select(Answer))}
    engine.dispose()
    assert stored["live_games_per_year"] == 12.0
    assert stored["likes_super_sento"] == 1.0 and stored["watches_sports_live_yearly"] == 0.0
    assert stored["likes_sauna"] == 1.0 and len(stored) == 5

    # The same chat on a desktop screen: both panes side by side, still on the newest message.
    page.set_viewport_size(DESKTOP)
    page.reload()
    expect(page.locator("#fan-list")).to_be_visible()
    expect(page.locator("#chat-title")).to_have_text("高橋 さくら")
    page.wait_for_function("document.getElementById('rich-menu-image').naturalWidth > 0")
    assert_newest_in_view(page)
    page.screenshot(path=str(SCREENSHOT_DIR / "fanbot-desktop-chat.png"))
