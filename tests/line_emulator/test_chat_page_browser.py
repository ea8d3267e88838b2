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
