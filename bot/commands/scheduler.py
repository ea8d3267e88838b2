"""``fanbot scheduler``: the process that runs post-game jobs and coupon expiry on a clock."""

from __future__ import annotations

import click


@click.group(invoke_without_command=True)
@click.pass_context
def scheduler(ctx: click.Context) -> None:
    """Run the scheduler until stopped (Ctrl-C or SIGTERM); subcommands run one job once."""
    if ctx.invoked_subcommand is not None:
        return
    import logging
    import signal
    import threading

    from bot.commands.session import load_settings
    from bot.scheduler import run_scheduler
    from data.catalog import load_catalog
    from data.models import utcnow

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(
        "fanbot scheduler: post-game jobs every 30 s, sender every 5 s, LINE quota every 5 min, "
        "coupon expiry hourly (Ctrl-C stops)"
    )
    run_scheduler(load_settings(), load_catalog(), utcnow, stop)


@scheduler.command("post-game")
def post_game() -> None:
    """Run the post-game job once for every game that ended and has not had it."""
    from bot.commands.session import load_settings
    from bot.scheduler import post_game_sweep
    from data.catalog import load_catalog
    from data.database import make_engine, make_session_factory
    from data.models import utcnow

    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        report = post_game_sweep(make_session_factory(engine), settings, load_catalog(), utcnow())
    finally:
        engine.dispose()
    sent, missed = report.sent or "-", report.missed or "-"
    click.echo(f"games sent: {sent}; messages queued: {report.messages}; missed: {missed}")


@scheduler.command("expire")
def expire() -> None:
    """Mark coupons past their validity expired, once."""
    from bot.commands.session import load_database_settings
    from bot.scheduler import expire_coupons
    from data.database import make_engine, make_session_factory
    from data.models import utcnow

    engine = make_engine(load_database_settings().database_url)
    try:
        click.echo(f"coupons expired: {expire_coupons(make_session_factory(engine), utcnow())}")
    finally:
        engine.dispose()


@scheduler.command("quota")
def quota() -> None:
    """Read LINE's monthly message quota and consumption once and keep the figure."""
    from bot.commands.session import load_settings, require_schema
    from bot.line_client import LineApiError
    from bot.scheduler import refresh_quota
    from data.database import make_engine, make_session_factory
    from data.models import utcnow

    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        require_schema(engine)
        read = refresh_quota(make_session_factory(engine), settings, utcnow())
    except LineApiError as error:
        raise click.ClickException(f"could not read LINE's monthly quota: {error}") from error
    finally:
        engine.dispose()
    if read.limit is None:
        click.echo(f"monthly quota: no limit; {read.used} messages used this month")
    else:
        click.echo(f"monthly quota: {read.used} of {read.limit} messages used, {read.remaining} left")
