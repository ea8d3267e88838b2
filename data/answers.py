"""Storing and validating survey answers, shared by the chat, the file import and the demo."""

from __future__ import annotations

import math
import unicodedata
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import ReadOnlyColumnCollection

from data.catalog import Item
from data.database import upsert
from data.models import Answer
from data.spoken_numbers import SpokenNumberError, read_count, strip_thousands
from data.units import UNITS

YES_WORDS = {"1", "はい", "yes", "y", "true", "ある", "あり"}
NO_WORDS = {"0", "いいえ", "no", "n", "false", "ない", "なし"}


class AnswerError(ValueError):
    """A value that does not fit the item; the message is Japanese, for the person who typed it."""


def parse_value(item: Item, raw: object) -> float:
    """Turn a typed or imported value into the stored number, or raise `AnswerError`.

    Full-width digits and spacing are folded first (``１２`` is 12), because
    that is how numbers arrive from Japanese keyboards and spreadsheets.
    """
    if isinstance(raw, bool):
        raw = int(raw)
    if isinstance(raw, int | float):
        if isinstance(raw, float) and math.isnan(raw):
            raise AnswerError("回答が空です。")
        value = float(raw)
    else:
        text = unicodedata.normalize("NFKC", str(raw)).strip().lower()
        if not text:
            raise AnswerError("回答が空です。")
        if item.is_yes_no and text in YES_WORDS:
            return 1.0
        if item.is_yes_no and text in NO_WORDS:
            return 0.0
        try:
            value = float(strip_thousands(text))
        except ValueError:
            if item.is_yes_no or item.unit is None:
                raise AnswerError("「はい」か「いいえ」でお答えください。") from None
            # Counts as people write them: 「12回」, 「1時間半」, 「三千円」.
            try:
                value = read_count(text, item.unit)
            except SpokenNumberError as error:
                raise AnswerError(str(error)) from None
        if not math.isfinite(value):
            example = UNITS[item.unit].example if item.unit in UNITS else "3"
            raise AnswerError(f"数字でお答えください（例: {example}）。")
    if item.accepts(value):
        return value
    if item.is_yes_no:
        raise AnswerError("「はい」か「いいえ」でお答えください。")
    assert item.max is not None
    if value < 0 or value > item.max:
        raise AnswerError(f"0から{int(item.max)}までの数字でお答えください。")
    raise AnswerError("整数でお答えください。")


def record_answer(session: Session, fan_id: int, item_id: str, value: float, answered_at: datetime) -> None:
    """Store a fan's answer; a later answer to the same item replaces value and time.

    An upsert on the (fan, item) unique key keeps this race-safe when the same
    tap arrives twice at once.
    """
    values = {"fan_id": fan_id, "item_id": item_id, "value": value, "answered_at": answered_at}
    session.execute(upsert(session, Answer, values, keys=ANSWER_KEY, update=latest_answer_wins))


# The (fan, item) unique key of answers, and what a later answer replaces.
ANSWER_KEY = ("fan_id", "item_id")


def latest_answer_wins(proposed: ReadOnlyColumnCollection[str, Any]) -> dict[str, Any]:
    return {"value": proposed.value, "answered_at": proposed.answered_at}


def answer_count(session: Session, fan_id: int) -> int:
    """How many items this fan has answered."""
    return session.scalar(select(func.count()).select_from(Answer).where(Answer.fan_id == fan_id)) or 0


def current_answer(session: Session, fan_id: int, item_id: str) -> float | None:
    """The fan's stored answer to one item, or None."""
    return session.scalar(select(Answer.value).where(Answer.fan_id == fan_id, Answer.item_id == item_id))


def answers_by_recency(session: Session, fan_id: int) -> list[tuple[str, float]]:
    """``(item_id, value)`` of the fan's answers, the most recently given first."""
    rows = session.execute(
        select(Answer.item_id, Answer.value)
        .where(Answer.fan_id == fan_id)
        .order_by(Answer.answered_at.desc(), Answer.id.desc())
    )
    return [(item_id, value) for item_id, value in rows]
