"""The fan conversation: which handler answers which event."""

from __future__ import annotations

from bot.conversation import consent, help
from bot.dispatch import Dispatcher


def build_dispatcher() -> Dispatcher:
    dispatcher = Dispatcher()
    after_consent: list[consent.AfterConsent] = []
    consent.register(dispatcher, after_consent)
    help.register(dispatcher)
    return dispatcher
