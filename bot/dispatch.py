"""Explicit dispatch of webhook events to conversation handlers.

Handlers run inside the event's transaction: they read and write through
``turn.session`` and queue replies on the turn; the webhook sends those replies
only after the commit.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from linebot.v3.messaging import Message as LineMessage
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.postback import Postback, PostbackError, parse
from bot.settings import Settings
from data.catalog import Catalog
from data.models import Fan

log = logging.getLogger(__name__)


@dataclass
class Turn:
    """One webhook event being handled: who, when, and what to answer."""

    session: Session
    settings: Settings
    catalog: Catalog
    now: datetime
    user_id: str
    replies: list[LineMessage] = field(default_factory=list)
    # What this turn was about ("survey" when it asked or answered a survey question), so a
    # follow-up hook can tell a detour (マイクーポン mid-round) from the survey itself.
    topics: set[str] = field(default_factory=set)
    # Work to do once the turn's transaction has committed (e.g. fetching a LINE profile).
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def reply(self, *messages: LineMessage) -> None:
        self.replies.extend(messages)

    def find_fan(self) -> Fan | None:
        return self.session.scalars(select(Fan).where(Fan.line_user_id == self.user_id)).one_or_none()


EventHandler = Callable[[Turn], None]
TextHandler = Callable[[Turn, str], None]
PostbackHandler = Callable[[Turn, Postback], None]
BadPostbackHandler = Callable[[Turn, str], None]


def normalize_text(text: str) -> str:
    """Fold full-width forms and spacing so `ｱﾝｹｰﾄ ` and `アンケート` match."""
    return unicodedata.normalize("NFKC", text).strip()


@dataclass
class Dispatcher:
    follow: list[EventHandler] = field(default_factory=list)
    unfollow: list[EventHandler] = field(default_factory=list)
    keywords: dict[str, TextHandler] = field(default_factory=dict)
    # Tried in order when no keyword matches; a handler returns True when it took the text.
    text_handlers: list[Callable[[Turn, str], bool]] = field(default_factory=list)
    fallback_text: TextHandler | None = None
    postbacks: dict[str, PostbackHandler] = field(default_factory=dict)
    bad_postback: BadPostbackHandler | None = None
    # Run after every text and postback handler, e.g. to offer the open survey round again.
    after_handling: list[EventHandler] = field(default_factory=list)

    def on_keyword(self, *words: str) -> Callable[[TextHandler], TextHandler]:
        def register(handler: TextHandler) -> TextHandler:
            for word in words:
                key = normalize_text(word)
                if key in self.keywords:
                    raise ValueError(f"keyword {word!r} registered twice")
                self.keywords[key] = handler
            return handler

        return register

    def on_postback(self, kind: str) -> Callable[[PostbackHandler], PostbackHandler]:
        def register(handler: PostbackHandler) -> PostbackHandler:
            if kind in self.postbacks:
                raise ValueError(f"postback kind {kind!r} registered twice")
            self.postbacks[kind] = handler
            return handler

        return register

    def handle_text(self, turn: Turn, text: str) -> None:
        self._text(turn, text)
        self._after(turn)

    def _text(self, turn: Turn, text: str) -> None:
        key = normalize_text(text)
        if handler := self.keywords.get(key):
            handler(turn, key)
            return
        for candidate in self.text_handlers:
            if candidate(turn, text):
                return
        if self.fallback_text is not None:
            self.fallback_text(turn, text)

    def handle_postback(self, turn: Turn, data: str) -> None:
        self._postback(turn, data)
        self._after(turn)

    def _after(self, turn: Turn) -> None:
        for hook in self.after_handling:
            hook(turn)

    def _postback(self, turn: Turn, data: str) -> None:
        try:
            postback = parse(data)
        except PostbackError as error:
            log.info("ignoring postback %r: %s", data[:100], error)
            if self.bad_postback is not None:
                self.bad_postback(turn, data)
            return
        handler = self.postbacks.get(postback.kind)
        if handler is None:
            if self.bad_postback is not None:
                self.bad_postback(turn, data)
            return
        handler(turn, postback)
