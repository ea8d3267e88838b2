"""The fan's LINE display name, fetched with their consent so marketers can find them.

The profile call goes through the one LINE client, after the event's transaction has
committed (a network call must not hold the database), and the name is stored by a
conditional write that needs current consent (`data.display_names`).
"""

from __future__ import annotations

import logging
from functools import partial

from bot.app_context import get_line_client, get_settings
from bot.db import get_database
from bot.dispatch import Dispatcher, Turn
from bot.line_client import LineApiError
from data.consent import has_current_consent
from data.display_names import store_display_name

log = logging.getLogger(__name__)


def remember_display_name(line_user_id: str) -> None:
    """Ask LINE for the fan's display name and store it; a failure leaves it for the next event."""
    try:
        name = get_line_client().display_name(line_user_id)
    except LineApiError as error:
        log.warning("could not fetch a LINE profile: %s", error)
        return
    if name:
        with get_database().transaction() as session:
            store_display_name(session, line_user_id, name, get_settings().consent_version)


def fetch_name_if_missing(turn: Turn) -> None:
    """After any event of a consenting fan whose name is not known yet (just agreed, or a fetch failed)."""
    fan = turn.find_fan()
    if fan is None or fan.display_name is not None:
        return
    if has_current_consent(fan, turn.settings.consent_version):
        turn.after_commit.append(partial(remember_display_name, turn.user_id))


def refresh_on_follow(turn: Turn) -> None:
    """A returning friend may have changed their name: fetch it again (consent permitting)."""
    fan = turn.find_fan()
    if fan is not None and has_current_consent(fan, turn.settings.consent_version):
        turn.after_commit.append(partial(remember_display_name, turn.user_id))


def register(dispatcher: Dispatcher) -> None:
    dispatcher.follow.append(refresh_on_follow)
    dispatcher.after_handling.append(fetch_name_if_missing)
