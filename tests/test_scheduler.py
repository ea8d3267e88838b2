"""The scheduler: post-game jobs once per game, missed ones reported, coupon expiry, one per database."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from bot.scheduler import GAME_LENGTH, GRACE, expire_coupons, post_game_sweep, run_scheduler, scheduler_lock
from coupons.issue import issue_coupon
from coupons.models import Campaign, Coupon
from data.catalog import load_catalog
from data.games import Game, mark_final
from data.models import Fan
from data.outbox import OutboxMessage
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


def test_a_game_found_after_the_grace_period_is_reported_missed_not_sent(
    factory: sessionmaker[Session],
) -> None:
    _season(factory)
    with factory() as session, session.begin():
        mark_final(session, "home", "85-79", END)
    inside = post_game_sweep(factory, SETTINGS, load_catalog(), END + GRACE)
    assert len(inside.sent) == 1
    with factory() as session, session.begin():
        session.execute(update(Game).values(post_game_state=None))
        session.execute(delete(OutboxMessage))
    late = post_game_sweep(factory, SETTINGS, load_catalog(), END + GRACE + timedelta(seconds=1))
    assert late.sent == [] and len(late.missed) == 1 and late.messages == 0
    with factory() as session:
        assert session.scalars(select(Game.post_game_state).where(Game.key == "home")).one() == "missed"
        assert session.scalars(select(OutboxMessage)).all() == []


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
    settings = SETTINGS.with_overrides(
        database_url=database_url,
        line_api_base_url=emulator.base_url,
        line_channel_secret=CHANNEL_SECRET,
        line_channel_access_token=ACCESS_TOKEN,
    )
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
    assert jobs == {"post-game", "sender", "coupon-expiry"}
    words, card = emulator.state.messages_for(fan_user)
    assert words["type"] == "text" and card["type"] == "flex"
    with factory() as session:
        assert session.scalars(select(OutboxMessage.state)).all() == ["sent"]
    assert emulator.state.violations == []
