"""Builders for the LINE messages fanbot sends (quick replies, text)."""

from __future__ import annotations

from collections.abc import Sequence

from linebot.v3.messaging import (
    MessageAction,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TextMessage,
)

MAX_QUICK_REPLY_ITEMS = 13  # LINE's limit
MAX_LABEL = 20  # LINE's limit for quick-reply action labels


def postback_button(label: str, data: str, display_text: str | None = None) -> QuickReplyItem:
    return QuickReplyItem(
        action=PostbackAction(label=label[:MAX_LABEL], data=data, displayText=display_text or label)
    )


def message_button(label: str, text: str | None = None) -> QuickReplyItem:
    return QuickReplyItem(action=MessageAction(label=label[:MAX_LABEL], text=text or label))


def text(body: str, buttons: Sequence[QuickReplyItem] = ()) -> TextMessage:
    """A text message, with quick-reply buttons when given."""
    if len(buttons) > MAX_QUICK_REPLY_ITEMS:
        raise ValueError(f"LINE allows {MAX_QUICK_REPLY_ITEMS} quick-reply buttons, got {len(buttons)}")
    quick_reply = QuickReply(items=list(buttons)) if buttons else None
    return TextMessage(text=body, quickReply=quick_reply)
