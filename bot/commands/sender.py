"""``fanbot sender``: drain the push outbox to LINE, show where it stands, requeue what the quota held back.

Operator output, in English: message counts by outcome, then request counts.
"""

from __future__ import annotations

import click


@click.group("sender")
def sender() -> None:
    """Push delivery from the outbox (exactly once, within LINE's rate limits and quota)."""


@sender.command("drain")
@click.option(
    "--until-done",
    is_flag=True,
    help="Keep draining, waiting for scheduled retries, until no message is pending or being sent.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many requests.")
def drain(until_done: bool, limit: int | None) -> None:
    """Send every due message once; print what was sent, retried, failed and held back."""
    import time
    from datetime import UTC, datetime

    from sqlalchemy import func, select

    from bot.commands.session import load_settings, require_schema
    from bot.sender import DatabaseUnavailableError, DrainReport, Sender
    from data.database import make_engine, make_session_factory
    from data.outbox import OutboxMessage

    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        require_schema(engine)
        sessions = make_session_factory(engine)
        outbox = Sender(sessions, settings, clock=lambda: datetime.now(UTC))
        total = DrainReport()
        while True:
            try:
                total.add(outbox.drain(limit=limit))
            except DatabaseUnavailableError as error:
                raise click.ClickException(
                    f"{error}; unsent messages stay in the outbox and go out on the next drain"
                ) from error
            if not until_done or total.quota_stopped:
                break
            with sessions() as session:
                due = session.scalar(
                    select(func.min(OutboxMessage.next_attempt_at)).where(
                        OutboxMessage.state.in_(("pending", "sending"))
                    )
                )
            if due is None:
                break
            wait = (due - datetime.now(UTC)).total_seconds()
            click.echo(f"waiting {max(0.0, wait):.1f} s for messages scheduled to be retried")
            time.sleep(max(0.0, wait) + 0.01)
    finally:
        engine.dispose()
    click.echo(total.summary())


@sender.command("status")
@click.option("--campaign", "campaign_id", type=int, default=None)
def status(campaign_id: int | None) -> None:
    """Messages in the outbox by state."""
    from bot.commands.session import load_database_settings, session_scope
    from data.outbox import count_by_state

    with session_scope(load_database_settings().database_url) as session:
        counts = count_by_state(session, campaign_id=campaign_id)
    for state, count in counts.items():
        click.echo(f"{state:>10} {count}")


@sender.command("requeue")
@click.option("--campaign", "campaign_id", type=int, default=None)
def requeue(campaign_id: int | None) -> None:
    """Put messages held back by the monthly quota back in the queue (after the quota grew)."""
    from datetime import UTC, datetime

    from bot.commands.session import load_database_settings, session_scope
    from data.outbox import requeue_over_quota

    with session_scope(load_database_settings().database_url) as session:
        count = requeue_over_quota(session, datetime.now(UTC), campaign_id=campaign_id)
    click.echo(f"requeued {count} messages held back by the monthly quota")
