"""The scheduler process: the post-game jobs, and whatever else runs on a clock.

`fanbot scheduler` runs APScheduler 3.x with its SQLAlchemy job store on the product's database,
in a process of its own (never inside web workers). Jobs:

- ``post-game`` (every `SWEEP_SECONDS`): every game that ended (marked final, or tip-off plus
  `Settings`' game length when nobody marked it) and whose post-game job has not run gets it now
  (`bot.postgame.plan_post_game`), in one transaction that also marks the game done. A game found
  more than the grace period after its end (the scheduler was down) is not sent late: it is marked
  ``missed`` and reported, loudly, instead of APScheduler's silent drop of a missed job.
- ``sender`` (every `DRAIN_SECONDS`): drains the outbox through LINE (`bot.sender.Sender`), so
  queued post-game messages go out; extra ``fanbot sender drain`` processes may share the work on
  PostgreSQL.
- ``coupon-expiry`` (hourly): coupons past their validity that were never used become ``expired``
  for reports, and LINE coupons of ended campaigns are closed.
- ``quota`` (every `QUOTA_MINUTES`): reads LINE's monthly message quota and what has been used of
  it, and keeps the figure in the database (`data.line_quota`) for the admin pages and
  ``fanbot sends show``. A failed read keeps the last figure (with its time) and is logged.

On PostgreSQL a second scheduler started by mistake waits on an advisory lock until the first
one stops, instead of running the jobs twice. Each job is also a one-shot function the CLI calls.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, text, update
from sqlalchemy.orm import Session, sessionmaker

from bot.line_client import LineApiError, LineClient, MessageQuota
from bot.metrics import log_event
from bot.postgame import plan_post_game
from bot.settings import Settings
from coupons.models import Coupon
from data.catalog import Catalog
from data.games import ended_at, games_ended_awaiting_post_game
from data.line_quota import save_quota

__all__ = [
    "ADVISORY_LOCK_KEY",
    "GAME_LENGTH",
    "GRACE",
    "QUOTA_MINUTES",
    "SWEEP_SECONDS",
    "SweepReport",
    "coupon_expiry_job",
    "expire_coupons",
    "post_game_job",
    "post_game_sweep",
    "quota_job",
    "refresh_quota",
    "run_scheduler",
    "scheduler_lock",
    "sender_job",
]

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30
DRAIN_SECONDS = 5
QUOTA_MINUTES = 5
# A B.League game takes about two hours from tip-off; unmarked games count as over after this
# (the default of `Settings.game_length_minutes`, FANBOT_GAME_LENGTH_MINUTES).
GAME_LENGTH = timedelta(minutes=Settings.game_length_minutes)
# A post-game send found this long after the game's end is reported missed, not sent (the
# default of `Settings.post_game_grace_minutes`, FANBOT_POST_GAME_GRACE_MINUTES).
GRACE = timedelta(minutes=Settings.post_game_grace_minutes)
ADVISORY_LOCK_KEY = 7_415_001  # fanbot's scheduler, one per database


@dataclass
class SweepReport:
    sent: list[int] = field(default_factory=list)  # game ids whose job ran
    missed: list[int] = field(default_factory=list)
    messages: int = 0


def post_game_sweep(
    factory: Callable[[], Session],
    settings: Settings,
    catalog: Catalog,
    now: datetime,
    *,
    game_length: timedelta | None = None,
    grace: timedelta | None = None,
) -> SweepReport:
    """Run the post-game job of every game that ended and has not had it; one transaction per game.

    ``game_length`` and ``grace`` default to the settings' (`Settings.game_length_minutes`,
    `Settings.post_game_grace_minutes`).
    """
    game_length = game_length or timedelta(minutes=settings.game_length_minutes)
    grace = grace or timedelta(minutes=settings.post_game_grace_minutes)
    report = SweepReport()
    with factory() as session:
        pending = [game.id for game in games_ended_awaiting_post_game(session, now, game_length)]
    for game_id in pending:
        with factory() as session, session.begin():
            game = next(
                (g for g in games_ended_awaiting_post_game(session, now, game_length) if g.id == game_id),
                None,
            )
            if game is None:
                continue  # another sweep took it meanwhile
            end = ended_at(game, game_length)
            if now - end > grace:
                game.post_game_state, game.post_game_at = "missed", now
                report.missed.append(game.id)
                log.error("post-game send for game %s missed: found %s after its end", game.key, now - end)
                log_event("post_game", game=game.id, outcome="missed")
                continue
            plan = plan_post_game(session, settings, catalog, game, now)
            game.post_game_state, game.post_game_at = "done", now
            report.sent.append(game.id)
            report.messages += plan.messages
            log_event("post_game", game=game.id, outcome="done", messages=plan.messages)
    return report


def expire_coupons(factory: Callable[[], Session], now: datetime) -> int:
    """Mark unused coupons past their validity ``expired`` (redemption already refuses them)."""
    with factory() as session, session.begin():
        done = session.execute(
            update(Coupon)
            .where(Coupon.state == "issued", Coupon.expires_at <= now)
            .values(state="expired")
            .execution_options(synchronize_session=False)
        )
        return int(getattr(done, "rowcount", 0) or 0)


def refresh_quota(
    factory: Callable[[], Session],
    settings: Settings,
    now: datetime,
    *,
    read: Callable[[], MessageQuota] | None = None,
) -> MessageQuota:
    """Read LINE's monthly quota and consumption and keep the figure; raises `LineApiError`
    (keeping the last figure) when LINE cannot be asked."""
    quota = read() if read is not None else _read_quota(settings)
    with factory() as session, session.begin():
        save_quota(session, quota.limit, quota.used, now)
    return quota


def _read_quota(settings: Settings) -> MessageQuota:
    client = LineClient(settings)
    try:
        return client.message_quota()
    finally:
        client.close()


@contextmanager
def scheduler_lock(engine: Engine, stop: threading.Event | None = None) -> Iterator[bool]:
    """Hold the database-wide scheduler lock (PostgreSQL advisory lock) while the block runs.

    Waits until the lock is free (a second scheduler waits for the first to stop). SQLite has
    one process writing anyway (its own lock); there the block simply runs.
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    connection = engine.connect()
    try:
        while not connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
        ).scalar():
            connection.commit()
            log.warning("another fanbot scheduler holds the lock; waiting")
            if stop is not None and stop.wait(5):
                yield False
                return
            if stop is None:
                threading.Event().wait(5)
        connection.commit()
        yield True
    finally:
        connection.execute(text("SELECT pg_advisory_unlock_all()"))
        connection.commit()
        connection.close()


@dataclass
class _Context:
    factory: sessionmaker[Session]
    settings: Settings
    catalog: Catalog
    clock: Callable[[], datetime]


# Set by `run_scheduler` in the scheduler process; the stored jobs name the functions below, which
# find their database and settings here (APScheduler's job store keeps references, not objects).
_running: dict[str, _Context] = {}


def _ctx() -> _Context:
    if "context" not in _running:
        raise RuntimeError("the scheduler's jobs run inside `fanbot scheduler` only")
    return _running["context"]


def post_game_job() -> None:
    ctx = _ctx()
    report = post_game_sweep(ctx.factory, ctx.settings, ctx.catalog, ctx.clock())
    if report.sent or report.missed:
        log.info(
            "post-game: %d games sent (%d messages queued), %d missed",
            len(report.sent),
            report.messages,
            len(report.missed),
        )


def sender_job() -> None:
    from bot.sender import Sender

    ctx = _ctx()
    report = Sender(ctx.factory, ctx.settings, clock=ctx.clock).drain()
    if report.sent or report.failed or report.quota_stopped:
        log.info("sender: %s", report)


def coupon_expiry_job() -> None:
    ctx = _ctx()
    expired = expire_coupons(ctx.factory, ctx.clock())
    if expired:
        log.info("coupon expiry: %d coupons expired", expired)


def quota_job() -> None:
    ctx = _ctx()
    try:
        quota = refresh_quota(ctx.factory, ctx.settings, ctx.clock())
    except LineApiError as error:
        log.warning("quota: could not read LINE's monthly quota (%s); keeping the last figure", error)
        return
    log_event("line_quota", limit=quota.limit, used=quota.used)


def run_scheduler(
    settings: Settings, catalog: Catalog, clock: Callable[[], datetime], stop: threading.Event
) -> None:
    """Run the jobs until ``stop`` is set, holding the scheduler lock (waiting for it first)."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from data.database import make_engine

    engine = make_engine(settings.database_url)
    # The job store gets an engine of its own: APScheduler disposes of it on shutdown.
    jobs_engine = make_engine(settings.database_url)
    try:
        with scheduler_lock(engine, stop) as held:
            if not held:
                return
            _running["context"] = _Context(
                sessionmaker(bind=engine, expire_on_commit=False), settings, catalog, clock
            )
            scheduler = BackgroundScheduler(
                jobstores={"default": SQLAlchemyJobStore(engine=jobs_engine, tablename="scheduler_jobs")},
                # A job that could not run on time runs once when it can (the sweep itself decides
                # what is too late for a game); never several piled-up runs.
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
                timezone="Asia/Tokyo",
            )
            scheduler.add_job(
                "bot.scheduler:post_game_job",
                "interval",
                seconds=SWEEP_SECONDS,
                id="post-game",
                replace_existing=True,
            )
            scheduler.add_job(
                "bot.scheduler:sender_job",
                "interval",
                seconds=DRAIN_SECONDS,
                id="sender",
                replace_existing=True,
            )
            scheduler.add_job(
                "bot.scheduler:coupon_expiry_job",
                "interval",
                hours=1,
                id="coupon-expiry",
                replace_existing=True,
            )
            scheduler.add_job(
                "bot.scheduler:quota_job",
                "interval",
                minutes=QUOTA_MINUTES,
                id="quota",
                replace_existing=True,
            )
            scheduler.start()
            quota_job()  # at start: the sender and the pages have a current figure
            post_game_job()  # at start: catch up with games that ended while it was down
            sender_job()
            stop.wait()
            scheduler.shutdown(wait=True)
    finally:
        _running.pop("context", None)
        jobs_engine.dispose()
        engine.dispose()
