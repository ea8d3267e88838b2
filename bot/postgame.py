"""After the game: the campaigns attached to a game become coupons and one outbox message per fan.

`plan_post_game` is the post-game job (run by the scheduler when a game ends, and by
``fanbot games send GAME``): in one transaction it records each campaign's audience, issues the
coupons (holdout, cap and one-per-fan rules are `coupons.issue`'s) and writes one outbox row per
fan (`data.outbox`), before anything is sent; the sender then delivers the rows exactly once.

- Which campaigns: active ones attached to this game, and to every home game when it is one.
- Frequency cap: a fan matched by several campaigns gets one message: the result's words and
  up to `MAX_CARDS` coupon cards side by side (others are still issued and in マイクーポン).
- Quiet hours (22:00-08:00 in Japan): a campaign that says "wait" is queued for 08:00, one that
  says "drop" is not issued for this game (and reported).
- Running it again for the same game issues and enqueues only what is new: nothing twice.

`postpone_game` is the one way to postpone a game (the CLI's and the admin page's): besides the
game's state, it calls off a send already planned: the game's messages not sent yet are
cancelled and the coupons they carry voided; messages already sent stay sent.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from linebot.v3.messaging import TextMessage
from sqlalchemy import and_, false, or_, select, true
from sqlalchemy.orm import Session

from bot.coupon_cards import CarouselTemplates
from bot.settings import Settings
from coupons.issue import game_occasion, issue_campaign
from coupons.models import AudienceMember, Campaign, Coupon, LookalikeScore, Partner
from coupons.outbox import void_cancelled
from coupons.rules import parse_rule
from coupons.wallet import held
from data.catalog import Catalog
from data.games import Game, postpone
from data.models import Fan
from data.outbox import OutboxItem, cancel_game, enqueue

__all__ = [
    "MAX_CARDS",
    "POSTPONED",
    "CampaignOutcome",
    "PostGamePlan",
    "Postponement",
    "plan_post_game",
    "postpone_game",
    "send_time",
]

TOKYO = ZoneInfo("Asia/Tokyo")
MAX_CARDS = 3
QUIET_FROM, QUIET_UNTIL = time(22, 0), time(8, 0)
# Why a cancelled message was not sent (in `fanbot sends show`).
POSTPONED = "cancelled: the game was postponed before the message was sent"
THANKS = {
    "win": "本日もご声援ありがとうございました！勝利のお祝いに、パートナー店舗のクーポンをお届けします。",
    "loss": "本日もご声援ありがとうございました！次の試合も応援をお願いします。クーポンをお届けします。",
    "draw": "本日もご声援ありがとうございました！パートナー店舗のクーポンをお届けします。",
}


def send_time(moment: datetime, policy: str) -> datetime | None:
    """When a post-game message may go out: now, 08:00 the next morning ("wait"), or never ("drop")."""
    local = moment.astimezone(TOKYO)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return moment
    if policy != "wait":
        return None
    morning = local.date() if local.time() < QUIET_UNTIL else local.date() + timedelta(days=1)
    return datetime.combine(morning, QUIET_UNTIL, tzinfo=TOKYO)


@dataclass
class CampaignOutcome:
    campaign_id: int
    title: str
    eligible: int = 0
    holdout: int = 0
    issued: int = 0
    at_limit: int = 0
    over_cap: int = 0
    dropped_quiet_hours: bool = False


@dataclass
class PostGamePlan:
    game_id: int
    campaigns: list[CampaignOutcome] = field(default_factory=list)
    messages: int = 0
    send_at: datetime | None = None


def _campaigns(session: Session, game: Game) -> list[Campaign]:
    attached = or_(
        Campaign.game_id == game.id, and_(Campaign.all_home_games.is_(True), true() if game.home else false())
    )
    return list(
        session.scalars(select(Campaign).where(Campaign.state == "active", attached).order_by(Campaign.id))
    )


def plan_post_game(
    session: Session, settings: Settings, catalog: Catalog, game: Game, now: datetime
) -> PostGamePlan:
    """Issue the game's campaigns and enqueue one message per fan; commits nothing."""
    plan = PostGamePlan(game.id)
    if game.state == "postponed":
        return plan
    cards: dict[int, list[tuple[Campaign, Coupon]]] = defaultdict(list)
    when: dict[int, datetime] = {}
    for campaign in _campaigns(session, game):
        outcome = CampaignOutcome(campaign.id, campaign.title)
        plan.campaigns.append(outcome)
        at = send_time(now, campaign.quiet_hours_policy)
        if at is None:
            outcome.dropped_quiet_hours = True
            continue
        report = issue_campaign(
            session,
            campaign,
            parse_rule(campaign.target_rule, catalog),
            settings.consent_version,
            now,
            occasion=game_occasion(game.id),
        )
        outcome.eligible, outcome.holdout = report.eligible, report.holdout
        outcome.issued, outcome.over_cap = len(report.issued), report.over_cap
        outcome.at_limit = report.at_limit
        for coupon in report.issued:
            if coupon.fan_id is not None:
                cards[coupon.fan_id].append((campaign, coupon))
                when[coupon.fan_id] = max(when.get(coupon.fan_id, at), at)
    if not cards:
        return plan
    fans: dict[int, str | None] = {
        fan_id: user_id
        for fan_id, user_id in session.execute(
            select(Fan.id, Fan.line_user_id).where(Fan.id.in_(list(cards)))
        )
    }
    partners = {p.id: p for p in session.scalars(select(Partner))}
    priority = _priorities(session, cards)
    result = game.result or "draw"
    items_by_time: dict[datetime, list[OutboxItem]] = defaultdict(list)
    # The cards are built once per set of offers (not per fan) and serialised once, here.
    carousels = CarouselTemplates(settings, now)
    texts: dict[str, str] = {}
    for fan_id, held_cards in cards.items():
        line_user_id = fans.get(fan_id)
        if not line_user_id:
            continue
        held_cards.sort(key=lambda pair: pair[1].expires_at)
        shown = held_cards[:MAX_CARDS]
        words = _words(shown, result)
        bubbles = [
            held(coupon, partners[coupon.partner_id], campaign.image_url) for campaign, coupon in shown
        ]
        if words not in texts:
            texts[words] = json.dumps(
                TextMessage(text=words).to_dict(), ensure_ascii=False, separators=(",", ":")
            )
        payload = "[" + texts[words] + "," + carousels.json(bubbles) + "]"
        items_by_time[when[fan_id]].append(
            OutboxItem(
                fan_id=fan_id,
                line_user_id=line_user_id,
                payload=payload,
                priority=priority.get(fan_id, 1.0),
                campaign_id=shown[0][0].id,
                game_id=game.id,
                coupon_ids=tuple(coupon.id for _, coupon in shown),
                held_coupon_ids=tuple(coupon.id for _, coupon in held_cards[MAX_CARDS:]),
            )
        )
    for at, items in items_by_time.items():
        plan.messages += enqueue(session, items, at).messages
        plan.send_at = at if plan.send_at is None else min(plan.send_at, at)
    return plan


def _words(shown: list[tuple[Campaign, Coupon]], result: str) -> str:
    for campaign, _ in shown:
        text = campaign.win_text if result == "win" else campaign.loss_text if result == "loss" else None
        if text:
            return text
    return THANKS[result]


def _priorities(session: Session, cards: dict[int, list[tuple[Campaign, Coupon]]]) -> dict[int, float]:
    """A fan who answered the rule's items scores 1; one matched by the lookalike model its score."""
    fan_ids = list(cards)
    rows = session.execute(
        select(AudienceMember.fan_id, AudienceMember.matched_by, LookalikeScore.score)
        .outerjoin(LookalikeScore, LookalikeScore.fan_id == AudienceMember.fan_id)
        .where(AudienceMember.fan_id.in_(fan_ids))
    )
    best: dict[int, float] = {}
    for fan_id, matched_by, score in rows:
        value = 1.0 if matched_by == "rule" or score is None else float(score)
        best[fan_id] = max(best.get(fan_id, 0.0), value)
    return best


@dataclass(frozen=True)
class Postponement:
    game: Game
    cancelled: int  # messages that will not be sent
    voided: int  # coupons of those messages

    @property
    def called_off(self) -> str:
        """What happened to the planned send, for the marketer; empty when nothing was planned."""
        if not self.cancelled:
            return ""
        return (
            f"送信予定のメッセージ {self.cancelled} 件を取り消し、"
            f"そのクーポン {self.voided} 枚を無効にしました。"
        )


def postpone_game(session: Session, ref: str, now: datetime) -> Postponement:
    """Postpone the game ``ref`` and call off its post-game send; commits nothing.

    Its outbox messages not sent yet become ``cancelled`` (messages a running sender has
    already claimed still go out, and are recorded sent if LINE accepts them), the coupons of
    the cancelled messages are voided (never in マイクーポン, never redeemed), and the post-game
    job is due again: once the game gets a new date (import) and ends, it runs as for any game.
    """
    game = postpone(session, ref, now)
    cancelled = cancel_game(session, game.id, reason=POSTPONED)
    voided = void_cancelled(session, game.id)
    game.post_game_state = game.post_game_at = None
    session.flush()
    return Postponement(game, cancelled, voided)
