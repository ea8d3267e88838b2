"""The survey in chat: rounds of questions and the hook that says which items come first.

Campaign code plugs in a `PriorityProvider` with `install_priority_provider`;
until one is installed, the configured default list in `data.survey_selection` is used.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from data.survey_selection import PriorityProvider, answer_counts, configured_priority

log = logging.getLogger(__name__)

PRIORITY_EXTENSION = "fanbot.survey_priority"
COUNTS_EXTENSION = "fanbot.answer_counts"


class AnswerCountCache:
    """Answers per item, recounted at most once per ``ttl_seconds``.

    Counting groups every answer in the database; the least-answered ordering of
    survey questions does not need it fresher than a minute, and a round start in
    the webhook must stay fast with millions of answers.
    """

    def __init__(self, ttl_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, int] | None = None
        self._expires = 0.0

    def get(self, session: Session) -> dict[str, int]:
        with self._lock:
            if self._counts is None or self.clock() >= self._expires:
                self._counts = answer_counts(session)
                self._expires = self.clock() + self.ttl_seconds
            return self._counts


def install_answer_count_cache(app: Flask, cache: AnswerCountCache) -> None:
    app.extensions[COUNTS_EXTENSION] = cache


def cached_answer_counts(session: Session) -> dict[str, int]:
    """Answers per item through the app's one cache (`create_app` installs it)."""
    cache: AnswerCountCache = current_app.extensions[COUNTS_EXTENSION]
    return cache.get(session)


def install_priority_provider(app: Flask, provider: PriorityProvider) -> None:
    app.extensions[PRIORITY_EXTENSION] = provider


def get_priority_provider() -> PriorityProvider:
    provider: PriorityProvider | None = current_app.extensions.get(PRIORITY_EXTENSION)
    return provider or configured_priority()


def priority_items(session: Session) -> list[str]:
    """The items to ask first, from the installed provider.

    A provider that fails for any reason but the database must not stop fans from
    answering: the survey falls back to the configured default list.
    """
    try:
        return list(get_priority_provider()(session))
    except SQLAlchemyError:
        raise
    except Exception:
        log.exception("survey priority provider failed; using the default list")
        return configured_priority()(session)


__all__ = [
    "PRIORITY_EXTENSION",
    "AnswerCountCache",
    "cached_answer_counts",
    "get_priority_provider",
    "install_answer_count_cache",
    "install_priority_provider",
    "priority_items",
]
