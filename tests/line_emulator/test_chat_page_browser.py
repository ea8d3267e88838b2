"""A person playing a fan in the chat page, driven through headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request
from linebot.v3 import WebhookParser
from linebot.v3.messaging import (
    ApiClient,
    Configuration,
    FlexBox,
    FlexBubble,
    FlexButton,
    FlexMessage,
    FlexText,
    MessageAction,
    MessagingApi,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.webhooks import FollowEvent, MessageEvent, PostbackEvent
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from line_emulator import EmulatorConfig, EmulatorState, create_emulator_app
from line_emulator.contract import default_spec_dir
from line_emulator.server import EmulatorServer

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SECRET = "browser-secret"
TOKEN = "browser-token"
SCREENSHOT = Path("/tmp/fanbot-emulator-chat.png")


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def flex_card() -> FlexMessage:
    return FlexMessage(
        altText="試合後クーポン",
        contents=FlexBubble(
            body=FlexBox(
                layout="vertical",
                contents=[
                    FlexText(text="試合後クーポン", weight="bold", size="xl"),
                    FlexText(text="ドリンク1杯無料", wrap=True, color="#555555"),
                ],
            ),
            footer=FlexBox(
                layout="vertical",
                contents=[
                    FlexButton(style="primary", action=PostbackAction(label="使う", data="v1:coupon:use"))
                ],
            ),
        ),
    )


class TinyBot:
    """Replies through the emulator like fanbot does: a Flex card, then text with quick replies."""

    def __init__(self) -> None:
        self.base_url = ""
        self.events: list[Any] = []
        self.app = Flask("tiny_bot")
        self.app.add_url_rule("/callback", view_func=self.callback, methods=["POST"])

    def callback(self) -> str:
        body = request.get_data(as_text=True)
        events = WebhookParser(SECRET).parse(body, request.headers["X-Line-Signature"])
        with ApiClient(Configuration(host=self.base_url, access_token=TOKEN)) as client:
            api = MessagingApi(client)
            for event in events:
                self.events.append(event)
                if isinstance(event, FollowEvent):
                    # Quick replies show only under the newest message, so they go on the last one.
                    messages: list[Any] = [
                        flex_card(),
                        TextMessage(
                            text="友だち追加ありがとう！応援しているチームは？",
                            quickReply=QuickReply(
                                items=[
                                    QuickReplyItem(
                                        action=PostbackAction(
                                            label="ホーム", data="v1:team:home", displayText="ホーム"
                                        )
                                    ),
                                    QuickReplyItem(
                                        action=MessageAction(label="まだ決めてない", text="まだ決めてない")
                                    ),
                                ]
                            ),
                        ),
                    ]
                elif isinstance(event, PostbackEvent):
                    messages = [TextMessage(text=f"受け取りました: {event.postback.data}")]
                elif isinstance(event, MessageEvent):
                    messages = [TextMessage(text=f"「{event.message.text}」ですね")]
                else:
                    continue
                api.reply_message(ReplyMessageRequest(replyToken=event.reply_token, messages=messages))
        return "OK"


@pytest.fixture
def tiny_bot() -> Iterator[tuple[TinyBot, EmulatorServer]]:
    bot = TinyBot()
    with EmulatorServer(bot.app) as server:
        yield bot, server


@pytest.fixture
def emulator(tiny_bot: tuple[TinyBot, EmulatorServer]) -> Iterator[tuple[str, EmulatorState]]:
    bot, bot_server = tiny_bot
    app = create_emulator_app(
        EmulatorConfig(
            channel_secret=SECRET,
            channel_access_token=TOKEN,
            webhook_url=bot_server.base_url + "/callback",
            spec_dir=default_spec_dir(),
        )
    )
    # Mounted under /emulator exactly like the dev server does it.
    mounted = DispatcherMiddleware(Flask("host"), {"/emulator": app})
    with EmulatorServer(mounted) as server:
        bot.base_url = server.base_url + "/emulator"
        yield server.base_url + "/emulator/", app.extensions["line_emulator"]
    app.extensions["line_emulator_sender"].close()


def test_fan_follows_sees_reply_and_taps_quick_reply(emulator: tuple[str, EmulatorState]) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    url, state = emulator
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto(url)

            page.fill("#new-fan-name", "山田 花子")
            page.click("text=新しいファンを作る")
            expect(page.locator("#chat-title")).to_have_text("山田 花子")

            page.click("#btn-follow")
            expect(page.locator(".row.bot .bubble").first).to_have_text(
                "友だち追加ありがとう！応援しているチームは？"
            )
            expect(page.locator(".flex-bubble .flex-text").first).to_have_text("試合後クーポン")
            expect(page.locator("#webhook-status")).to_have_text("webhook: 200")
            expect(page.locator("#quick-replies button")).to_have_count(2)

            page.click("#quick-replies >> text=ホーム")
            expect(page.locator(".row.user .bubble").last).to_have_text("ホーム")
            expect(page.locator(".row.bot .bubble").last).to_have_text("受け取りました: v1:team:home")
            expect(page.locator("#quick-replies button")).to_have_count(0)

            page.fill("#composer-text", "こんにちは")
            page.get_by_role("button", name="送信", exact=True).click()
            expect(page.locator(".row.bot .bubble").last).to_have_text("「こんにちは」ですね")

            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()

    (user,) = state.list_users()
    texts = [m.get("text") for m in state.messages_for(user.user_id)]
    assert texts == [
        None,
        "友だち追加ありがとう！応援しているチームは？",
        "受け取りました: v1:team:home",
        "「こんにちは」ですね",
    ]
    assert state.violations == []


def test_at_phone_size_one_pane_shows_at_a_time_and_the_newest_message_stays_in_view(
    emulator: tuple[str, EmulatorState],
) -> None:
    require_chromium()
    from playwright.sync_api import Route, expect, sync_playwright

    from bot.richmenu import render_rich_menu_image, rich_menu_request
    from line_emulator.state import RichMenu
    from tests.viewport import PHONE, assert_composer_usable, assert_fully_visible, assert_newest_in_view

    url, state = emulator
    # The fan's menu, as fanbot installs it: its image loads after the chat has rendered.
    menu = RichMenu("richmenu-phone", rich_menu_request().to_dict(), render_rich_menu_image(), "image/png")
    state.rich_menus[menu.rich_menu_id] = menu
    state.default_rich_menu_id = menu.rich_menu_id

    def slow_image(route: Route) -> None:
        import time

        time.sleep(0.8)
        route.continue_()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport=PHONE)
            page.route("**/richmenus/*/image", slow_image)
            page.goto(url)
            expect(page.locator("#new-fan-name")).to_be_in_viewport()
            expect(page.locator("#chat-empty")).to_be_hidden()

            page.fill("#new-fan-name", "山田 花子")
            page.click("text=新しいファンを作る")
            # The chat takes the whole screen; the list is one tap back.
            expect(page.locator("#fan-list")).to_be_hidden()
            expect(page.locator("#btn-back")).to_be_visible()
            assert_composer_usable(page)
            for button in ("#btn-follow", "#btn-unfollow", "#btn-redeliver"):
                box = page.locator(button).bounding_box()
                assert box is not None and box["height"] < 40, f"{button} wraps: {box}"

            page.click("#btn-follow")
            expect(page.locator(".row.bot .bubble").last).to_have_text(
                "友だち追加ありがとう！応援しているチームは？"
            )
            expect(page.locator("#rich-menu-image")).to_be_visible()
            page.wait_for_function("document.getElementById('rich-menu-image').naturalWidth > 0")
            assert_newest_in_view(page)
            tile = page.locator(".rich-menu-area").first.bounding_box()
            assert tile is not None and tile["width"] > 180 and tile["height"] > 120, tile

            for number in range(1, 9):
                before = page.locator(".row.bot").count()
                page.fill("#composer-text", f"{number}回目")
                page.keyboard.press("Enter")
                page.wait_for_function(f"document.querySelectorAll('.row.bot').length > {before}")
                expect(page.locator(".row.bot .bubble").last).to_have_text(f"「{number}回目」ですね")
                assert_newest_in_view(page)
                assert_composer_usable(page)

            # Reading back up: a new reply must not pull the reader down, but says it is there.
            page.mouse.move(195, 300)
            page.mouse.wheel(0, -3000)
            page.wait_for_function("document.getElementById('messages').scrollTop < 50")
            before = page.locator(".row.bot").count()
            user_id = state.list_users()[0].user_id
            page.evaluate(
                "id => fetch('api/users/' + id + '/text', {method: 'POST', headers: {'Content-Type': "
                "'application/json'}, body: JSON.stringify({text: 'まだ読んでる'})})",
                user_id,
            )
            page.wait_for_function(f"document.querySelectorAll('.row.bot').length > {before}")
            expect(page.locator("#btn-jump")).to_be_visible()
            assert page.evaluate("document.getElementById('messages').scrollTop") < 50
            page.click("#btn-jump")
            assert_newest_in_view(page)
            expect(page.locator("#btn-jump")).to_be_hidden()

            # Reopening the chat (a reload keeps it open) lands on the newest message even
            # though the rich-menu image arrives late and shrinks the message area.
            page.reload()
            expect(page.locator("#chat-title")).to_have_text("山田 花子")
            page.wait_for_function("document.getElementById('rich-menu-image').naturalWidth > 0")
            assert_newest_in_view(page)
            page.screenshot(path="/tmp/fanbot-emulator-phone-chat.png")

            page.click("#btn-back")
            expect(page.locator("#fan-list")).to_be_visible()
            expect(page.locator("#chat")).to_be_hidden()
            assert_fully_visible(page.locator("#fan-list button").first, "the fan in the list")
            page.screenshot(path="/tmp/fanbot-emulator-phone-list.png")
        finally:
            browser.close()
    assert state.violations == []
