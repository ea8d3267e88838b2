"""Accessors for what `create_app` binds to the application."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import current_app

from bot.dispatch import Dispatcher
from bot.line_client import LineClient
from bot.settings import Settings
from data.catalog import Catalog

Clock = Callable[[], datetime]


def get_settings() -> Settings:
    settings: Settings = current_app.extensions["fanbot.settings"]
    return settings


def get_catalog() -> Catalog:
    catalog: Catalog = current_app.extensions["fanbot.catalog"]
    return catalog


def get_dispatcher() -> Dispatcher:
    dispatcher: Dispatcher = current_app.extensions["fanbot.dispatcher"]
    return dispatcher


def get_line_client() -> LineClient:
    client: LineClient = current_app.extensions["fanbot.line_client"]
    return client


def clock() -> Clock:
    now: Clock = current_app.extensions["fanbot.clock"]
    return now


def now() -> datetime:
    """The current time by the app's clock (a frozen one in tests)."""
    return clock()()
