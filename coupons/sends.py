"""A game's post-game sends, campaign by campaign: what is planned before the game ends, what happened after.

Public functions: :func:`game_sends` (one game, for ``fanbot sends show GAME``, the game's admin
page and the dashboard's next game) and :func:`send_totals` (every game's outbox in one query, for
the games list).

Which campaigns a game has:

- before its post-game job ran: the campaigns attached to it, and the active ones attached to every
  home game when it is one (`bot.postgame` takes the active ones among these); each with the
  audience it would reach now (`coupons.audience.eligible_fans`) when a catalog is given;
- after: the campaigns its outbox rows name, the ones attached to it, and the every-home-game ones
  (not drafts) that existed when the job ran.

Audience and holdout are the campaign's (a campaign for every home game counts all its games);
issued is the coupons issued for this game (their occasion, `coupons.issue.game_occasion`); the
outbox counts are this game's messages that carried the campaign's coupon. A fan matched by
several campaigns gets one message with all their cards (`bot.postgame`), so that message counts
under each of those campaigns: a message is matched to a campaign by its fan holding the
campaign's coupon for this game (the row names only its first campaign). Plain functions on a
`Session`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from coupons.audience import eligible_fans
from coupons.issue import game_occasion
from coupons.models import AudienceMember, Campaign, Coupon
from coupons.rules import RuleError, parse_rule
from data.catalog import Catalog
from data.games import Game
from data.outbox import OUTBOX_STATES, OutboxMessage

__all__ = ["CampaignSends", "GameSends", "game_sends", "send_totals"]


@dataclass(frozen=True)
class CampaignSends:
    """One campaign of a game's post-game send."""

    campaign_id: int
    title: str
    state: str  # the campaign's: only "active" ones are sent
    attached: str  # "game": to this game; "home": to every home game; "": neither (any more)
    # Before the job ran, with a catalog: whom it would reach now (None when unknown).
    expected_targeted: int | None
    expected_holdout: int | None
    audience: int  # recorded audience of the campaign, holdout included
    holdout: int
    issued: int
    sent: int
    failed: int
    failed_reasons: tuple[tuple[str, int], ...]
    waiting: int  # pending or being sent
    over_quota: int
    dropped: int
    cancelled: int  # called off: the game was postponed before they went out
    cancelled_reasons: tuple[tuple[str, int], ...]

    @property
    def will_send(self) -> bool:
        return self.state == "active" and self.attached != ""


@dataclass(frozen=True)
class GameSends:
    game_id: int
    ran: bool  # the post-game job ran (or was given up)
    campaigns: list[CampaignSends]


def _campaigns(session: Session, game: Game) -> list[Campaign]:
    ran = game.post_game_state is not None
    every_home = Campaign.all_home_games.is_(True)
    if not ran:
        # A draft attached to this very game is shown (it will not be sent); home-game ones only when active.
        conditions: list[ColumnElement[bool]] = [Campaign.game_id == game.id]
        if game.home:
            conditions.append(every_home & (Campaign.state == "active"))
        return list(session.scalars(select(Campaign).where(or_(*conditions)).order_by(Campaign.id)))
    sent_for = select(OutboxMessage.campaign_id).where(
        OutboxMessage.game_id == game.id, OutboxMessage.campaign_id.is_not(None)
    )
    conditions = [Campaign.id.in_(sent_for), Campaign.game_id == game.id]
    if game.home and game.post_game_at is not None:
        existed = (Campaign.state != "draft") & (Campaign.created_at <= game.post_game_at)
        conditions.append(every_home & existed)
    return list(session.scalars(select(Campaign).where(or_(*conditions)).order_by(Campaign.id)))


def _expected(
    session: Session, campaign: Campaign, catalog: Catalog, consent_version: str
) -> tuple[int | None, int | None]:
    try:
        rule = parse_rule(campaign.target_rule, catalog)
    except RuleError:
        return None, None  # a rule the catalog no longer reads: the campaign page says why
    fans = eligible_fans(session, campaign, rule, consent_version)
    # A fan keeps the group of their first recording and gets no more coupons than the campaign's limit.
    members = select(AudienceMember.fan_id, AudienceMember.group).where(
        AudienceMember.campaign_id == campaign.id
    )
    recorded = {fan_id: group for fan_id, group in session.execute(members)}
    holdings = (
        select(Coupon.fan_id, func.count()).where(Coupon.campaign_id == campaign.id).group_by(Coupon.fan_id)
    )
    held = {fan_id: int(number) for fan_id, number in session.execute(holdings)}
    groups = [recorded.get(fan.fan_id, fan.group) for fan in fans]
    holdout = groups.count("holdout")
    targeted = sum(
        1
        for fan, group in zip(fans, groups, strict=True)
        if group == "targeted" and held.get(fan.fan_id, 0) < max(1, campaign.per_fan_limit)
    )
    # Never past the campaign's total cap.
    return min(targeted, max(0, campaign.total_cap - campaign.issued_count)), holdout


def game_sends(
    session: Session, game: Game, *, catalog: Catalog | None = None, consent_version: str | None = None
) -> GameSends:
    """The game's campaigns with their audience, coupons and this game's messages by state.

    Pass ``catalog`` and ``consent_version`` to have, before the post-game job ran, each
    campaign's expected audience (targeted and holdout, as of now).
    """
    ran = game.post_game_state is not None
    rows = []
    for campaign in _campaigns(session, game):
        groups = {
            str(group): int(number)
            for group, number in session.execute(
                select(AudienceMember.group, func.count())
                .where(AudienceMember.campaign_id == campaign.id)
                .group_by(AudienceMember.group)
            ).tuples()
        }
        for_game = (Coupon.campaign_id == campaign.id, Coupon.occasion == game_occasion(game.id))
        issued = session.scalar(select(func.count()).select_from(Coupon).where(*for_game))
        # This game's messages that carried the campaign's coupon: its fan holds this game's, or it names it.
        holders = select(Coupon.fan_id).where(*for_game, Coupon.fan_id.is_not(None))
        carried = (
            OutboxMessage.game_id == game.id,
            or_(OutboxMessage.campaign_id == campaign.id, OutboxMessage.fan_id.in_(holders)),
        )
        states = dict.fromkeys(OUTBOX_STATES, 0)
        states.update(
            {
                str(state): int(number)
                for state, number in session.execute(
                    select(OutboxMessage.state, func.count()).where(*carried).group_by(OutboxMessage.state)
                ).tuples()
            }
        )
        reasons: dict[str, list[tuple[str, int]]] = {"failed": [], "cancelled": []}
        for state, reason, count in session.execute(
            select(OutboxMessage.state, OutboxMessage.last_error, func.count())
            .where(*carried, OutboxMessage.state.in_(tuple(reasons)))
            .group_by(OutboxMessage.state, OutboxMessage.last_error)
            .order_by(func.count().desc())
        ).tuples():
            reasons[str(state)].append((str(reason or "理由不明"), int(count)))
        if campaign.game_id == game.id:
            attached = "game"
        elif campaign.all_home_games and game.home:
            attached = "home"
        else:
            attached = ""
        expected: tuple[int | None, int | None] = (None, None)
        if not ran and catalog is not None and consent_version is not None:
            expected = _expected(session, campaign, catalog, consent_version)
        rows.append(
            CampaignSends(
                campaign_id=campaign.id,
                title=campaign.title,
                state=campaign.state,
                attached=attached,
                expected_targeted=expected[0],
                expected_holdout=expected[1],
                audience=sum(groups.values()),
                holdout=groups.get("holdout", 0),
                issued=int(issued or 0),
                sent=states["sent"],
                failed=states["failed"],
                failed_reasons=tuple(reasons["failed"]),
                waiting=states["pending"] + states["sending"],
                over_quota=states["over_quota"],
                dropped=states["dropped"],
                cancelled=states["cancelled"],
                cancelled_reasons=tuple(reasons["cancelled"]),
            )
        )
    return GameSends(game.id, ran, rows)


def send_totals(session: Session, game_ids: list[int]) -> dict[int, dict[str, int]]:
    """Each game's outbox rows by state (every state present, zero when none), in one query."""
    totals = {game_id: dict.fromkeys(OUTBOX_STATES, 0) for game_id in game_ids}
    if not game_ids:
        return totals
    rows = session.execute(
        select(OutboxMessage.game_id, OutboxMessage.state, func.count())
        .where(OutboxMessage.game_id.in_(game_ids))
        .group_by(OutboxMessage.game_id, OutboxMessage.state)
    ).tuples()
    for game_id, state, number in rows:
        if game_id is not None:
            totals[int(game_id)][str(state)] = int(number)
    return totals
