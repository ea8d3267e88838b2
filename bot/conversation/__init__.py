"""The fan conversation: which handler answers which event."""

from __future__ import annotations

from bot.conversation import answer_change, checkin, consent, help, menu, privacy, profile, schedule, survey
from bot.dispatch import Dispatcher


def build_dispatcher() -> Dispatcher:
    dispatcher = Dispatcher()
    # The survey's first round starts in the same reply as the thanks for consenting.
    after_consent: list[consent.AfterConsent] = [survey.after_consent]
    consent.register(dispatcher, after_consent)
    survey.register(dispatcher)
    checkin.register(dispatcher)
    answer_change.register(dispatcher)
    privacy.register(dispatcher)
    menu.register(dispatcher)
    schedule.register(dispatcher)
    help.register(dispatcher)
    profile.register(dispatcher)
    return dispatcher
