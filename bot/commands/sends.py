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
    from bot.commands.session import load_database_settings, session_scope
    from coupons.sends import game_sends
    from data.games import TOKYO, GameError, find_game
    from data.line_quota import stored_quota

    try:
        with session_scope(load_database_settings().database_url) as session:
            found = find_game(session, game)
            job = found.post_game_state or "not run"
            click.echo(f"{found.key} vs {found.opponent}: {found.state}, post-game job {job}")
            for row in game_sends(session, found).campaigns:
                click.echo(
                    f"  campaign {row.campaign_id} {row.title}: audience {row.audience}, "
                    f"holdout {row.holdout}, issued {row.issued}, sent {row.sent}, failed {row.failed}, "
                    f"waiting {row.waiting}, over quota {row.over_quota}, dropped {row.dropped}, "
                    f"cancelled {row.cancelled}"
                )
                for reason, count in row.failed_reasons:
                    click.echo(f"    failed {count}: {reason}")
                for reason, count in row.cancelled_reasons:
                    click.echo(f"    cancelled {count}: {reason}")
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
