"""``fanbot run``: the whole product on one machine, with the LINE emulator and demo data."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import run_simple

from bot.settings import Settings, SettingsError, demo_environment

EMULATOR_PREFIX = "/emulator"
DEMO_MARKETER_EMAIL = "demo@fanbot.example"
DEMO_MARKETER_PASSWORD = "fanbot-demo-pass"


def dev_settings(environ: dict[str, str]) -> Settings:
    """Settings for `make run`: the user's variables win, demo values fill the gaps."""
    port = int(environ.get("PORT") or 8000)
    merged = {**demo_environment(port), **{k: v for k, v in environ.items() if v}}
    return Settings.from_env(merged)


def serves_own_emulator(settings: Settings) -> bool:
    """Whether LINE_API_BASE_URL points at the emulator this server mounts."""
    hosts = (settings.host, "127.0.0.1", "localhost")
    return settings.line_api_base_url in {f"http://{host}:{settings.port}{EMULATOR_PREFIX}" for host in hosts}


def build_dev_app(settings: Settings) -> Flask:
    """The bot app, with the LINE emulator mounted at /emulator when the bot is pointed at it."""
    from bot.app import create_app

    app = create_app(settings)
    if serves_own_emulator(settings):
        from line_emulator import EmulatorConfig, create_emulator_app

        emulator = create_emulator_app(
            EmulatorConfig(
                channel_secret=settings.line_channel_secret,
                channel_access_token=settings.line_channel_access_token,
                webhook_url=f"http://127.0.0.1:{settings.port}/callback",
                spec_dir=settings.line_openapi_dir,
                state_path=settings.emulator_state_path,
            )
        )
        app.extensions["line_emulator_app"] = emulator
        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {EMULATOR_PREFIX: emulator})  # type: ignore[method-assign]
    return app


def _install_rich_menu(settings: Settings, base: str) -> None:
    import urllib.request

    from bot.line_client import LineApiError, LineClient
    from bot.richmenu import setup_rich_menu

    for _ in range(100):  # wait until run_simple accepts connections
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    client = LineClient(settings)
    try:
        rich_menu_id = setup_rich_menu(client)
        click.echo(f"  rich menu:      {rich_menu_id} set as default in the emulator")
    except LineApiError as error:
        click.echo(f"  rich menu:      could not be installed ({error})", err=True)
    finally:
        client.close()


def _start_emulator_demo(app: Flask, settings: Settings, base: str, demo_campaign: int | None) -> None:
    _install_rich_menu(settings, base)
    if demo_campaign is None:
        return
    from bot.demo_coupons import add_demo_fans_to_emulator, send_demo_campaign
    from data.catalog import load_catalog
    from data.models import utcnow

    add_demo_fans_to_emulator(app)
    report = send_demo_campaign(settings, load_catalog(), demo_campaign, utcnow())
    click.echo(
        f"  demo coupons:   {report.sent} coupon cards sent to demo fans in the emulator "
        f"({report.holdout} held out for measuring uplift)"
    )


def ensure_demo_marketer(session: Session) -> None:
    from data.models import StaffUser, utcnow
    from data.staff import create_staff_user

    if session.scalar(select(StaffUser.id).where(StaffUser.email == DEMO_MARKETER_EMAIL)) is None:
        # The demo account is an admin so that one sign-in reaches every page, accounts included.
        create_staff_user(
            session, DEMO_MARKETER_EMAIL, "デモ担当者", DEMO_MARKETER_PASSWORD, role="admin", now=utcnow()
        )


@dataclass(frozen=True)
class DemoSeed:
    respondents: int  # demo respondents added (0 when they were there)
    campaign_id: int  # the demo campaign sent to the demo fans at start
    games: int  # demo games added


def seed_demo(settings: Settings, respondents: int | None = None) -> DemoSeed:
    """`make run`'s demo data, once: respondents, the demo sign-in, shop, campaigns, fans and season."""
    from bot.commands.session import session_scope
    from bot.demo_coupons import seed_demo_coupons
    from data.catalog import load_catalog
    from data.demo import DEMO_RESPONDENTS, demo_season, load_demo_data, settle_past_demo_games
    from data.games import import_games
    from data.models import utcnow

    with session_scope(settings.database_url) as session:
        created = load_demo_data(session, respondents=respondents or DEMO_RESPONDENTS)
        ensure_demo_marketer(session)
        coupons = seed_demo_coupons(session, load_catalog(), settings.consent_version, utcnow())
        season = import_games(session, demo_season(utcnow()), utcnow())
        settle_past_demo_games(session, utcnow())
    return DemoSeed(created, coupons.campaign_id, season.created)


@click.command()
@click.option("--no-demo-data", is_flag=True, help="Do not load the demo fans and answers.")
@click.option("--no-scheduler", is_flag=True, help="Do not start the scheduler process next to the server.")
def run(no_demo_data: bool, no_scheduler: bool) -> None:
    """Serve the bot, admin pages and (with LINE_API_BASE_URL on this server) the LINE emulator."""
    import os

    try:
        settings = dev_settings(dict(os.environ))
    except SettingsError as error:
        raise click.ClickException(str(error)) from error
    base = f"http://{settings.host}:{settings.port}"
    own_emulator = serves_own_emulator(settings)
    # The URLs come first so they are the first thing a newcomer sees.
    click.echo(f"fanbot is starting at {base}/")
    click.echo(f"  LINE webhook:   {base}/callback")
    click.echo(f"  health check:   {base}/healthz")
    click.echo(f"  admin pages:    {base}/admin/")
    if not no_demo_data:
        click.echo(f"                  demo sign-in: {DEMO_MARKETER_EMAIL} / {DEMO_MARKETER_PASSWORD}")
    click.echo(f"  shop counter:   {base}/partner/   (phone page where partner staff redeem coupons)")
    if not no_demo_data:
        from bot.demo_coupons import DEMO_SHOP_CODE, DEMO_SHOP_NAME

        click.echo(f"                  demo shop: {DEMO_SHOP_NAME} / access code {DEMO_SHOP_CODE}")
    if own_emulator:
        click.echo(f"  LINE emulator:  {base}{EMULATOR_PREFIX}/   (play a fan here)")
    else:
        click.echo(f"  LINE API:       {settings.line_api_base_url or 'the real LINE platform'}")
    click.echo(f"  database:       {settings.database_url}")
    if own_emulator and settings.emulator_state_path is not None:
        store = settings.emulator_state_path
        click.echo(f"  emulator store: {store}   (FANBOT_EMULATOR_STATE=off forgets fans on exit)")

    from data.database import make_engine
    from data.migrate import upgrade

    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    demo_campaign: int | None = None
    if not no_demo_data:
        demo = seed_demo(settings)
        demo_campaign = demo.campaign_id
        if demo.respondents:
            click.echo(f"  demo data:      {demo.respondents} demo respondents loaded")
        if demo.games:
            click.echo(f"  demo season:    {demo.games} games added (fanbot games list)")

    app = build_dev_app(settings)
    if own_emulator:
        # Give the emulator the menu a real channel would have (setup replaces an earlier one),
        # and the demo fans their coupon cards.
        threading.Thread(
            target=_start_emulator_demo, args=(app, settings, base, demo_campaign), daemon=True
        ).start()
    from bot.inbox import start_workers
    from bot.security_headers import QuietRequestHandler

    # The webhook only records events; these threads handle them and reply.
    start_workers(app, settings.inbox_workers)
    scheduler = None if no_scheduler else _start_scheduler(settings)
    # SIGTERM ends the server like Ctrl-C does, so the scheduler process is stopped with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    try:
        run_simple(
            settings.host,
            settings.port,
            app,
            threaded=True,
            use_reloader=False,
            request_handler=QuietRequestHandler,
        )
    finally:
        if scheduler is not None:
            scheduler.terminate()
            scheduler.wait(timeout=30)


def _start_scheduler(settings: Settings) -> subprocess.Popen[bytes]:
    """`fanbot scheduler` in a process of its own, with the same settings (never inside the web server)."""
    import os

    environment = {**demo_environment(settings.port), **{k: v for k, v in os.environ.items() if v}}
    environment["DATABASE_URL"] = settings.database_url
    process = subprocess.Popen([sys.executable, "-m", "bot", "scheduler"], env=environment)
    click.echo(f"  scheduler:      post-game jobs and coupon expiry (process {process.pid})")
    return process
