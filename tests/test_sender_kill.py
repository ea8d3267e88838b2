"""The sender killed with SIGKILL in the middle of a 10,000-fan send, and started again.

Real processes: `fanbot sender drain --until-done` runs as a child process against the test's
database and the LINE emulator (a real HTTP server on a local port). Once LINE has answered
some of the pushes, the emulator holds its next answers (the messages are delivered, the
answers do not come back, like a connection that dies mid-request) and the test kills the
sender with SIGKILL: it leaves messages ``sending`` that LINE accepted, messages it had
claimed but not sent, and outcomes it had not written yet. A second sender, started after,
sends everything left once the dead sender's claims run out (a short lease set through
``FANBOT_SENDER_LEASE_SECONDS``), and the emulator's own record shows every fan exactly one
message: the messages LINE had accepted are answered 409 under their retry key, not sent again.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import pytest
from flask import Response, request
from linebot.v3.messaging import TextMessage
from sqlalchemy import func, select

from bot.line_client import serialize_messages
from data.database import make_engine, make_session_factory
from data.models import Fan
from data.outbox import OutboxItem, OutboxMessage, count_by_state, enqueue
from tests.conftest import ACCESS_TOKEN, CHANNEL_SECRET, RunningEmulator
from tests.fans import following_fans

ROOT = Path(__file__).resolve().parents[1]
PUSH = "/v2/bot/message/push"
FANS = 10_000
# LINE answers this many pushes, then the answers stop coming until the sender is dead.
ANSWERED_BEFORE_THE_KILL = 3_000
LEASE_SECONDS = 4


def payload(number: int) -> str:
    return serialize_messages([TextMessage(text=f"試合おつかれさまでした！クーポン番号 {number:06d}")])


def sender_process(database_url: str, emulator: RunningEmulator, log: BinaryIO) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "LINE_API_BASE_URL": emulator.base_url,
        "FANBOT_SENDER_LEASE_SECONDS": str(LEASE_SECONDS),
        "FANBOT_SENDER_CONNECTIONS": "16",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "sender", "drain", "--until-done"],
        # No .env file in a fresh folder: the environment above is the whole configuration.
        cwd=Path(log.name).parent,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def test_a_sender_killed_mid_send_and_restarted_gives_every_fan_exactly_one_message(
    database_url: str, emulator: RunningEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="werkzeug")  # not a log line per request
    state = emulator.state
    state.set_message_quota(None)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)
    with sessions() as session, session.begin():
        users = following_fans(session, state, FANS, now)
    with sessions() as session, session.begin():
        fans = session.execute(select(Fan.id, Fan.line_user_id).order_by(Fan.id)).all()
        enqueue(
            session,
            (
                OutboxItem(fan_id=fan_id, line_user_id=str(user), payload=payload(fan_id))
                for fan_id, user in fans
            ),
            now,
        )
    # Each fan's one message (a push carries a list of message objects: here one text).
    expected = {str(user): json.loads(payload(fan_id)) for fan_id, user in fans}

    answered = 0
    counting = threading.Lock()
    holding = threading.Event()
    holding.set()
    reached = threading.Event()
    released = threading.Event()

    @emulator.app.after_request
    def _lose_answers_after_a_while(response: Response) -> Response:
        # The message is delivered and its retry key accepted by now; only the answer waits.
        nonlocal answered
        if request.path != PUSH or not holding.is_set():
            return response
        with counting:
            answered += 1
            hold = answered > ANSWERED_BEFORE_THE_KILL
        if hold:
            reached.set()
            released.wait(120)
        return response

    with (tmp_path / "first.log").open("wb") as log:
        first = sender_process(database_url, emulator, log)
        try:
            while not reached.wait(0.2):
                assert first.poll() is None, "the sender ended before it was killed"
            first.send_signal(signal.SIGKILL)
            first.wait(30)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait(30)
            holding.clear()
            released.set()
    assert first.returncode == -signal.SIGKILL, (tmp_path / "first.log").read_text()

    delivered_before = sum(1 for user in users if state.messages_for(user))
    with sessions() as session:
        left = {k: v for k, v in count_by_state(session).items() if v}
    # Killed in the middle: some fans have their message, and the dead sender's claims are left behind.
    assert ANSWERED_BEFORE_THE_KILL < delivered_before < FANS
    assert left.get("sending", 0) > 0 and left.get("pending", 0) > 0

    with (tmp_path / "second.log").open("wb") as log:
        second = sender_process(database_url, emulator, log)
        second.wait(300)
    output = (tmp_path / "second.log").read_text()
    assert second.returncode == 0, output

    # The emulator's own record: every fan got exactly their one message.
    received = {user: state.messages_for(user) for user in users}
    wrong = [user for user in users if received[user] != expected[user]]
    assert (len(wrong), wrong[:3]) == (0, [])
    pushes = [r for r in state.requests if r.path == PUSH]
    statuses = Counter(r.status for r in pushes)
    assert statuses[200] == FANS
    # What LINE had accepted before the kill came back under the same key and was answered 409.
    assert statuses[409] > 0 and set(statuses) <= {200, 409}
    accepted = {r.headers["X-Line-Retry-Key"] for r in pushes if r.status == 200}
    assert {r.headers["X-Line-Retry-Key"] for r in pushes if r.status == 409} <= accepted
    with sessions() as session:
        assert {k: v for k, v in count_by_state(session).items() if v} == {"sent": FANS}
        assert session.scalar(select(func.count()).where(OutboxMessage.accepted_request_id.is_(None))) == 0
    assert state.violations == []
    engine.dispose()
