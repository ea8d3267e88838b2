"""The survey in chat: rounds of questions and the hook that says which items come first.

Campaign code plugs in a `PriorityProvider` with `install_priority_provider`;
until one is installed, the configured default list in `data.survey_selection` is used.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from data.survey_selection import PriorityProvider, configured_priority

log = logging.getLogger(__name__)

PRIORITY_EXTENSION = "fanbot.survey_priority"


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


__all__ = ["PRIORITY_EXTENSION", "get_priority_provider", "install_priority_provider", "priority_items"]
