"""The scheduler: post-game jobs once per game, missed ones reported, coupon expiry, one per database."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.scheduler import (
    GAME_LENGTH,
    _Context,
    _running,
    expire_coupons,
    post_game_sweep,
    quota_job,
    refresh_quota,
    run_scheduler,
    scheduler_lock,
)
from coupons.issue import issue_coupon
from coupons.models import Campaign, Coupon
from data.catalog import load_catalog
from data.games import Game, mark_final
from data.line_quota import LineQuota, StoredQuota, save_quota, stored_quota
from data.models import Fan
from data.outbox import OutboxMessage
from line_emulator.api import quota_month
from tests.conftest import ACCESS_TOKEN, CHANNEL_SECRET, RunningEmulator
from tests.test_postgame import END, SETTINGS, TIPOFF, _campaign, _fan, _games


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def _season(factory: sessionmaker[Session]) -> None:
    with factory() as session, session.begin():
        home, _ = _games(session)
        _fan(session, 1, {"likes_super_sento": 1})
        _campaign(session, "c0", game_id=home.id)


def test_an_ended_game_gets_its_post_game_job_once(factory: sessionmaker[Session]) -> None:
    _season(factory)
    catalog = load_catalog()
    assert post_game_sweep(factory, SETTINGS, catalog, END).sent == []  # not final, not past its length
    with factory() as session, session.begin():
        mark_final(session, "home", "85-79", END)
    first = post_game_sweep(factory, SETTINGS, catalog, END + timedelta(minutes=1))
    again = post_game_sweep(factory, SETTINGS, catalog, END + timedelta(minutes=2))
    assert (len(first.sent), first.messages, again.sent) == (1, 1, [])
    with factory() as session:
        assert len(session.scalars(select(OutboxMessage)).all()) == 1
        assert session.scalars(select(Game.post_game_state).where(Game.key == "home")).one() == "done"


def test_an_unmarked_game_counts_as_over_after_its_usual_length(factory: sessionmaker[Session]) -> None:
    _season(factory)
    report = post_game_sweep(factory, SETTINGS, load_catalog(), TIPOFF + GAME_LENGTH + timedelta(seconds=1))
    assert len(report.sent) == 1 and report.messages == 1


# Configured (FANBOT_GAME_LENGTH_MINUTES, FANBOT_POST_GAME_GRACE_MINUTES) rather than the defaults.
CONFIGURED = {"game_length_minutes": 100, "post_game_grace_minutes": 30}


@pytest.mark.parametrize("ended_by", ["marked final", "its usual length"])
@pytest.mark.parametrize(
    ("down_for", "outcome"),
    [(timedelta(minutes=29), "done"), (timedelta(minutes=31), "missed")],
    ids=["back inside the grace period", "back after it"],
)
def test_a_scheduler_down_across_a_games_end_sends_late_only_inside_the_grace_period(
    factory: sessionmaker[Session],
    database_url: str,
    emulator: RunningEmulator,
    caplog: Any,
    ended_by: str,
    down_for: timedelta,
    outcome: str,
) -> None:
    """The scheduler process is down when the game ends and starts ``down_for`` after the end."""
    _season(factory)
    end = TIPOFF + timedelta(minutes=CONFIGURED["game_length_minutes"])
    if ended_by == "marked final":
        end = END
        with factory() as session, session.begin():
            mark_final(session, "home", "85-79", END)
    with factory() as session:
        fan_user = session.scalars(select(Fan.line_user_id)).one()
    assert fan_user is not None
    emulator.state.create_user("ファン", user_id=fan_user)
    emulator.state.set_following(fan_user, True)
    stop = threading.Event()
    worker = threading.Thread(
        target=run_scheduler,
        args=(
            _settings(database_url, emulator).with_overrides(**CONFIGURED),
            load_catalog(),
            lambda: end + down_for,
            stop,
        ),
    )
    worker.start()
    state: str | None = None
    try:
        for _ in range(400):
            with factory() as session:
                state = session.scalars(select(Game.post_game_state).where(Game.key == "home")).one()
            if state == "missed" or (state == "done" and emulator.state.messages_for(fan_user)):
                break
            threading.Event().wait(0.05)
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive()

    # Everything the scheduler ran at start has run (the sender included) by the time it stopped.
    assert state == outcome
    pushed = [r for r in emulator.state.requests if r.path == "/v2/bot/message/push"]
    with factory() as session:
        rows = session.scalars(select(OutboxMessage.state)).all()
    if outcome == "done":
        assert rows == ["sent"] and len(pushed) == 1
        assert [m["type"] for m in emulator.state.messages_for(fan_user)] == ["text", "flex"]
    else:
        assert rows == [] and pushed == [] and emulator.state.messages_for(fan_user) == []
        assert any(r.levelname == "ERROR" and "missed" in r.getMessage() for r in caplog.records)
    assert emulator.state.violations == []


def _settings(database_url: str, emulator: RunningEmulator) -> Any:
    return SETTINGS.with_overrides(
        database_url=database_url,
        line_api_base_url=emulator.base_url,
        line_channel_secret=CHANNEL_SECRET,
        line_channel_access_token=ACCESS_TOKEN,
    )


def test_expiry_marks_only_unused_coupons_past_their_validity(factory: sessionmaker[Session]) -> None:
    _season(factory)
    with factory() as session, session.begin():
        campaign_id = session.scalars(select(Campaign.id)).one()
        fan_id = session.scalars(select(Fan.id)).one()
        assert issue_coupon(session, campaign_id, fan_id, TIPOFF).status == "issued"
    assert expire_coupons(factory, TIPOFF + timedelta(hours=47)) == 0
    assert expire_coupons(factory, TIPOFF + timedelta(hours=48)) == 1
    with factory() as session:
        assert session.scalars(select(Coupon.state)).all() == ["expired"]


def test_a_second_scheduler_waits_for_the_lock_on_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        with scheduler_lock(engine) as held:
            assert held  # SQLite: one writer at a time anyway
        return
    stop = threading.Event()
    with scheduler_lock(engine) as first:
        assert first
        threading.Timer(0.3, stop.set).start()
        with scheduler_lock(engine, stop) as second:
            assert not second  # it waited, and gave up only when told to stop
    with scheduler_lock(engine, threading.Event()) as after:
        assert after  # free again once the first one stopped


def test_the_scheduler_process_catches_up_at_start_sends_and_stops_on_request(
    factory: sessionmaker[Session], database_url: str, emulator: RunningEmulator
) -> None:
    _season(factory)
    with factory() as session, session.begin():
        mark_final(session, "home", "85-79", END)
        fan_user = session.scalars(select(Fan.line_user_id)).one()
    assert fan_user is not None
    emulator.state.create_user("ファン", user_id=fan_user)
    emulator.state.set_following(fan_user, True)
    stop = threading.Event()
    settings = _settings(database_url, emulator)
    clock: Any = lambda: END + timedelta(minutes=5)  # noqa: E731
    worker = threading.Thread(target=run_scheduler, args=(settings, load_catalog(), clock, stop))
    worker.start()
    jobs: set[str] = set()
    try:
        for _ in range(200):
            if emulator.state.messages_for(fan_user):
                break
            threading.Event().wait(0.05)
        for _ in range(100):
            with factory() as session:
                jobs = set(session.scalars(text("SELECT id FROM scheduler_jobs")))
            if jobs:
                break
            threading.Event().wait(0.05)
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive()
    # Each job is kept in the product's database, the sender's included.
    assert jobs == {"post-game", "sender", "coupon-expiry", "quota"}
    words, card = emulator.state.messages_for(fan_user)
    assert words["type"] == "text" and card["type"] == "flex"
    with factory() as session:
        assert session.scalars(select(OutboxMessage.state)).all() == ["sent"]
    assert emulator.state.violations == []


# -- LINE's monthly quota ---------------------------------------------------------------------


def test_the_quota_job_keeps_lines_monthly_figure_and_the_last_one_when_line_is_away(
    factory: sessionmaker[Session], database_url: str, emulator: RunningEmulator, caplog: Any
) -> None:
    settings = _settings(database_url, emulator)
    emulator.state.set_message_quota(500)
    assert emulator.state.consume_quota(120, quota_month(time.time()))
    with factory() as session:
        assert stored_quota(session) is None

    read = refresh_quota(factory, settings, END)
    assert emulator.state.consume_quota(30, quota_month(time.time()))
    again = refresh_quota(factory, settings, END + timedelta(minutes=5))
    with factory() as session:
        kept = stored_quota(session)
        assert session.scalar(select(func.count()).select_from(LineQuota)) == 1

    assert (read.limit, read.used, read.remaining) == (500, 120, 380)
    assert (again.limit, again.used) == (500, 150)
    assert kept == StoredQuota(500, 150, END + timedelta(minutes=5)) and kept.remaining == 350
    quota_calls = [r.path for r in emulator.state.requests if "quota" in r.path]
    assert quota_calls == ["/v2/bot/message/quota", "/v2/bot/message/quota/consumption"] * 2

    # LINE unreachable: the job logs it and the last figure stays, with its time.
    away = settings.with_overrides(line_api_base_url="http://127.0.0.1:9", line_timeout_seconds=1.0)
    _running["context"] = _Context(factory, away, load_catalog(), lambda: END + timedelta(minutes=10))
    try:
        quota_job()
    finally:
        _running.pop("context")
    with factory() as session:
        assert stored_quota(session) == kept
    assert "could not read LINE's monthly quota" in caplog.text


def test_a_quota_figure_that_cannot_be_is_refused(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        with pytest.raises(ValueError, match="not a quota"):
            save_quota(session, 100, -1, END)
        with pytest.raises(ValueError, match="not a quota"):
            save_quota(session, -5, 0, END)
        assert stored_quota(session) is None


def test_a_plan_without_a_monthly_limit_is_kept_as_no_limit(
    factory: sessionmaker[Session], database_url: str, emulator: RunningEmulator
) -> None:
    settings = _settings(database_url, emulator)
    emulator.state.set_message_quota(None)

    refresh_quota(factory, settings, END)

    with factory() as session:
        assert stored_quota(session) == StoredQuota(None, 0, END)


def test_the_quota_command_reads_it_once_and_sends_show_reports_it(
    factory: sessionmaker[Session],
    database_url: str,
    emulator: RunningEmulator,
    tmp_path: Any,
    monkeypatch: Any,
) -> None:
    from click.testing import CliRunner

    from bot.commands.scheduler import scheduler
    from bot.commands.sends import sends

    _season(factory)
    monkeypatch.chdir(tmp_path)
    env = {
        "DATABASE_URL": database_url,
        "LINE_API_BASE_URL": emulator.base_url,
        "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
    }
    emulator.state.set_message_quota(800)
    before = CliRunner().invoke(sends, ["show", "home"], env=env)
    assert before.exit_code == 0, before.output
    assert "monthly quota: not read yet" in before.output

    read = CliRunner().invoke(scheduler, ["quota"], env=env)
    assert read.exit_code == 0, read.output
    assert "monthly quota: 0 of 800 messages used, 800 left" in read.output
    shown = CliRunner().invoke(sends, ["show", "home"], env=env)
    assert "monthly quota: 800 of 800 messages left, 0 used (as read " in shown.output

    away = CliRunner().invoke(scheduler, ["quota"], env={**env, "LINE_API_BASE_URL": "http://127.0.0.1:9"})
    assert away.exit_code == 1 and "could not read LINE's monthly quota" in away.output
