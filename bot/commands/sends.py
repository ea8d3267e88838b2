"""``fanbot sends show GAME``: what a game's post-game send did, campaign by campaign."""

from __future__ import annotations

import click


@click.group()
def sends() -> None:
    """Post-game sends: audiences, coupons and messages per campaign."""


@sends.command("show")
@click.argument("game")
def show(game: str) -> None:
    """Per campaign of GAME (id or key): audience, holdout, issued, sent, failed, waiting, over quota."""
    from sqlalchemy import func, select

    from bot.commands.session import load_database_settings, session_scope
    from coupons.issue import game_occasion
    from coupons.models import AudienceMember, Campaign, Coupon
    from data.games import GameError, find_game
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
                    select(func.count())
                    .select_from(Coupon)
                    .where(Coupon.campaign_id == campaign_id, Coupon.occasion == game_occasion(found.id))
                )
                states = count_by_state(session, campaign_id=campaign_id, game_id=found.id)
                reasons = session.execute(
                    select(OutboxMessage.last_error, func.count())
                    .where(
                        OutboxMessage.campaign_id == campaign_id,
                        OutboxMessage.game_id == found.id,
                        OutboxMessage.state == "failed",
                    )
                    .group_by(OutboxMessage.last_error)
                ).tuples()
                audience = sum(groups.values())
                holdout = groups.get("holdout", 0)
                click.echo(
                    f"  campaign {campaign_id} {title}: audience {audience}, holdout {holdout}, "
                    f"issued {issued}, sent {states['sent']}, failed {states['failed']}, "
                    f"waiting {states['pending'] + states['sending']}, over quota {states['over_quota']}, "
                    f"dropped {states['dropped']}"
                )
                for reason, count in reasons:
                    click.echo(f"    failed {count}: {reason}")
    except GameError as error:
        raise click.ClickException(str(error)) from error
