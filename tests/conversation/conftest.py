"""Helpers for conversation tests: read what the app stored, one short transaction at a time.

The app's SQLite engine opens every transaction with BEGIN IMMEDIATE, so a test
session left inside a transaction would hold the write lock and stall the next
webhook; each read here opens and closes its own session.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from bot.db import Database
from data.catalog import Catalog
from data.models import AnonymousCount, Answer, Fan, SurveyRound
from tests.line_driver import LineDriver, postback_data, quick_replies


class Store:
    def __init__(self, app: Flask) -> None:
        self.database: Database = app.extensions["fanbot.db"]
        self.catalog: Catalog = app.extensions["fanbot.catalog"]

    def fan(self, user_id: str) -> Fan | None:
        with self.database.sessions() as session:
            return session.scalars(select(Fan).where(Fan.line_user_id == user_id)).one_or_none()

    def fan_by_id(self, fan_id: int) -> Fan | None:
        with self.database.sessions() as session:
            return session.get(Fan, fan_id)

    def answers(self, user_id: str) -> dict[str, float]:
        with self.database.sessions() as session:
            rows = session.execute(
                select(Answer.item_id, Answer.value).join(Fan).where(Fan.line_user_id == user_id)
            )
            return {item_id: value for item_id, value in rows}

    def answer_rows(self, user_id: str) -> list[Answer]:
        with self.database.sessions() as session:
            return list(session.scalars(select(Answer).join(Fan).where(Fan.line_user_id == user_id)))

    def answers_of_fan(self, fan_id: int) -> int:
        with self.database.sessions() as session:
            return (
                session.scalar(select(func.count()).select_from(Answer).where(Answer.fan_id == fan_id)) or 0
            )

    def rounds(self, user_id: str) -> list[SurveyRound]:
        with self.database.sessions() as session:
            return list(
                session.scalars(
                    select(SurveyRound)
                    .join(Fan, Fan.id == SurveyRound.fan_id)
                    .where(Fan.line_user_id == user_id)
                    .order_by(SurveyRound.id)
                )
            )

    def rounds_of_fan(self, fan_id: int) -> int:
        with self.database.sessions() as session:
            count = select(func.count()).select_from(SurveyRound).where(SurveyRound.fan_id == fan_id)
            return session.scalar(count) or 0

    def count(self, key: str) -> int:
        with self.database.sessions() as session:
            return session.scalar(select(AnonymousCount.count).where(AnonymousCount.key == key)) or 0

    def all_answers(self) -> list[tuple[Any, ...]]:
        with self.database.sessions() as session:
            rows = session.execute(
                select(Answer.item_id, Answer.value, Fan.consented_at, Fan.deleted_at).join(Fan)
            )
            return [tuple(row) for row in rows]


@pytest.fixture
def store(app: Flask) -> Store:
    return Store(app)


def last(messages: list[dict[str, Any]]) -> dict[str, Any]:
    assert messages, "the bot replied nothing"
    return messages[-1]


def button_labels(message: dict[str, Any]) -> list[str]:
    return [action["label"] for action in quick_replies(message)]


def tap(line: LineDriver, user: str, message: dict[str, Any], label: str) -> list[dict[str, Any]]:
    """Tap the quick-reply postback button labelled ``label`` under ``message``."""
    return line.postback(user, postback_data(message, label))


def consented_fan(line: LineDriver, name: str = "テストファン") -> tuple[str, list[dict[str, Any]]]:
    """A fan who followed and agreed; returns the user id and the reply to the agreement."""
    user = line.new_fan(name)
    replies = line.follow(user)
    return user, line.postback(user, postback_data(replies[-1], "同意する"))


def use_priority(app: Flask, *items: str) -> None:
    """Make ``items`` the ones asked first, as a campaign would."""
    from bot.survey import install_priority_provider

    install_priority_provider(app, lambda _session: list(items))
