"""Fans for tests: consented LINE fans who follow the account, known to the LINE emulator."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bot.settings import CONSENT_VERSION
from data.models import Fan
from line_emulator.state import EmulatorState


def following_fans(session: Session, state: EmulatorState, count: int, now: datetime) -> list[str]:
    """``count`` emulator users who follow the account and consented a day ago, inserted in one
    statement (the kill test needs 10,000); their LINE user ids."""
    users = [state.create_user(f"ファン{i}").user_id for i in range(count)]
    for user in users:
        state.set_following(user, True)
    session.execute(
        insert(Fan),
        [
            {
                "line_user_id": user,
                "source": "line",
                "consented_at": now - timedelta(days=1),
                "consent_version": CONSENT_VERSION,
                "is_following": True,
                "created_at": now,
            }
            for user in users
        ],
    )
    return users
