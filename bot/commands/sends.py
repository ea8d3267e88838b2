"""``fanbot sends show GAME``: what a game's post-game send did, campaign by campaign."""

from __future__ import annotations

import click


@click.group()
def sends() -> None:
    """Post-game sends: audiences, coupons and messages per campaign."""


@sends.command("show")
@click.argument("game")
def show(game: str) -> None:
    """Per campaign of GAME (id or key): audience, holdout, issued, sent, failed, waiting, over quota,
    dropped and cancelled (the game was postponed); then LINE's monthly quota as last read."""
    from sqlalchemy import func, select

    from bot.commands.session import load_database_settings, session_scope
    from coupons.models import AudienceMember, Campaign, Coupon
    from data.games import TOKYO, GameError, find_game
    from data.line_quota import stored_quota
    from data.outbox import OutboxMessage, count_by_state

    try:
        with session_scope(load_database_settings().database_url) as session:
            found = find_game(session, game)
            job = found.post_game_state or "not run"
            click.echo(f"{found.key} vs {found.opponent}: {found.state}, post-game job {job}")
            sent_for = session.scalars(
                select(OutboxMessage.campaign_id).where(OutboxMessage.game_id == found.id)
            )
            attached = session.scalars(select(Campaign.id).where(Campaign.game_id == found.id))
            campaign_ids = sorted({c for c in sent_for if c is not None} | set(attached))
            for campaign_id in campaign_ids:
                title = session.scalar(select(Campaign.title).where(Campaign.id == campaign_id))
                rows = session.execute(
                    select(AudienceMember.group, func.count())
                    .where(AudienceMember.campaign_id == campaign_id)
                    .group_by(AudienceMember.group)
                ).all()
                groups = {str(group): int(number) for group, number in rows}
                issued = session.scalar(
                    select(func.count()).select_from(Coupon).where(Coupon.campaign_id == campaign_id)
                )
                states = count_by_state(session, campaign_id=campaign_id, game_id=found.id)
                reasons = session.execute(
                    select(OutboxMessage.state, OutboxMessage.last_error, func.count())
                    .where(
                        OutboxMessage.campaign_id == campaign_id,
                        OutboxMessage.game_id == found.id,
                        OutboxMessage.state.in_(("failed", "cancelled")),
                    )
                    .group_by(OutboxMessage.state, OutboxMessage.last_error)
                    .order_by(OutboxMessage.state, OutboxMessage.last_error)
                ).tuples()
                audience = sum(groups.values())
                holdout = groups.get("holdout", 0)
                click.echo(
                    f"  campaign {campaign_id} {title}: audience {audience}, holdout {holdout}, "
                    f"issued {issued}, sent {states['sent']}, failed {states['failed']}, "
                    f"waiting {states['pending'] + states['sending']}, over quota {states['over_quota']}, "
                    f"dropped {states['dropped']}, cancelled {states['cancelled']}"
                )
                for state, reason, count in reasons:
                    click.echo(f"    {state} {count}: {reason}")
            quota = stored_quota(session)
            if quota is None:
                click.echo("monthly quota: not read yet (`fanbot scheduler quota` reads it)")
            else:
                read = f"as read {quota.checked_at.astimezone(TOKYO):%Y-%m-%d %H:%M} JST"
                if quota.limit is None:
                    click.echo(f"monthly quota: no limit, {quota.used} messages used ({read})")
                else:
                    click.echo(
                        f"monthly quota: {quota.remaining} of {quota.limit} messages left, "
                        f"{quota.used} used ({read})"
                    )
    except GameError as error:
        raise click.ClickException(str(error)) from error
