"""``fanbot sender``: the operator's drain, status and requeue commands."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from linebot.v3.messaging import TextMessage
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.commands.sender import sender
from bot.line_client import serialize_messages
from data.models import Fan
from data.outbox import OutboxItem, count_by_state, enqueue
from tests.conftest import ACCESS_TOKEN, CHANNEL_SECRET, RunningEmulator
from tests.fans import following_fans

PUSH = "/v2/bot/message/push"


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def queue(engine: Engine, emulator: RunningEmulator, count: int) -> list[str]:
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        users = following_fans(session, emulator.state, count, now)
        fans = session.scalars(select(Fan).where(Fan.line_user_id.in_(users))).all()
        enqueue(
            session,
            [
                OutboxItem(
                    fan.id,
                    str(fan.line_user_id),
                    serialize_messages([TextMessage(text=f"クーポン {fan.id}")]),
                    priority=float(fan.id),
                )
                for fan in fans
            ],
            now,
        )
    return users


def run(args: list[str], database_url: str, emulator: RunningEmulator) -> Result:
    env = {
        "DATABASE_URL": database_url,
        "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "LINE_API_BASE_URL": emulator.base_url,
    }
    return CliRunner().invoke(sender, args, env=env, catch_exceptions=False)


def test_drain_sends_everything_due_and_says_so(
    database_url: str, engine: Engine, emulator: RunningEmulator
) -> None:
    users = queue(engine, emulator, 3)

    result = run(["drain"], database_url, emulator)

    assert result.exit_code == 0, result.output
    assert "sent 3 messages (0 of them already accepted by LINE, 409)" in result.output
    assert "3 requests" in result.output
    assert [len(emulator.state.messages_for(u)) for u in users] == [1, 1, 1]
    assert emulator.state.violations == []


def test_drain_until_done_waits_for_a_retry_and_sends_it(
    database_url: str, engine: Engine, emulator: RunningEmulator
) -> None:
    (user,) = queue(engine, emulator, 1)
    emulator.state.inject_failures(PUSH, [503])

    result = run(["drain", "--until-done"], database_url, emulator)

    assert result.exit_code == 0, result.output
    assert "waiting" in result.output
    assert "sent 1 messages" in result.output
    assert "1 server errors (5xx)" in result.output
    assert len(emulator.state.messages_for(user)) == 1


def test_status_and_requeue_show_and_release_what_the_quota_held_back(
    database_url: str, engine: Engine, emulator: RunningEmulator
) -> None:
    users = queue(engine, emulator, 3)
    emulator.state.set_message_quota(1)

    drained = run(["drain"], database_url, emulator)
    first_round = [len(emulator.state.messages_for(u)) for u in users]
    status = run(["status"], database_url, emulator)
    emulator.state.set_message_quota(None)
    requeued = run(["requeue"], database_url, emulator)
    again = run(["drain"], database_url, emulator)

    assert "over quota 2" in drained.output
    assert "monthly quota: 0 of 1 used before this drain" in drained.output
    assert [line.split() for line in status.output.splitlines()] == [
        ["pending", "0"],
        ["sending", "0"],
        ["sent", "1"],
        ["failed", "0"],
        ["over_quota", "2"],
        ["dropped", "0"],
        ["cancelled", "0"],
    ]
    assert requeued.output.strip() == "requeued 2 messages held back by the monthly quota"
    assert "sent 2 messages" in again.output
    # The best-scored fan (highest id here) went first; in the end everyone got exactly one.
    assert first_round == [0, 0, 1]
    assert [len(emulator.state.messages_for(u)) for u in users] == [1, 1, 1]
    with Session(engine) as session:
        assert count_by_state(session)["sent"] == 3
