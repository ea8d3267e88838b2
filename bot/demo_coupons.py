"""The coupon half of `make run`'s demo: a super sento near the arena, a campaign built on the
source finding (fans who go to games also go to super sento), and LINE fans in the emulator who
match it, so a newcomer sees a coupon card within a minute of starting the product.

Everything is idempotent: a restart finds the shop, the campaign and the fans and adds nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.coupon_delivery import SendReport, send_campaign
from bot.line_client import LineClient
from bot.scoring import run_scoring
from bot.settings import Settings
from coupons.models import Campaign, Partner
from coupons.partners import create_partner
from data.catalog import Catalog
from data.database import make_engine, make_session_factory
from data.models import Answer, Fan
from segmentation.lookalike import LookalikeError

__all__ = [
    "DEMO_CAMPAIGN_TITLE",
    "DEMO_FANS",
    "DEMO_POSTGAME_TITLE",
    "DEMO_SHOP_CODE",
    "DEMO_SHOP_NAME",
    "add_demo_fans_to_emulator",
    "seed_demo_coupons",
    "send_demo_campaign",
]

DEMO_SHOP_NAME = "湯の郷 アリーナ前店"
DEMO_SHOP_CODE = "sento-demo-2026"
DEMO_CAMPAIGN_TITLE = "試合の後はひとっ風呂 入館料200円引き"
DEMO_POSTGAME_TITLE = "ホームゲーム観戦の日は 岩盤浴無料"
# LINE user ids of the demo fans (fixed, so the emulator's store and the database agree across restarts).
DEMO_FANS: tuple[tuple[str, str, dict[str, float]], ...] = (
    ("U" + "de0" * 10 + "01", "デモファン 湯上がり太郎", {"likes_super_sento": 1, "live_games_per_year": 8}),
    ("U" + "de0" * 10 + "02", "デモファン ととのい花子", {"likes_super_sento": 1, "live_games_per_year": 5}),
    ("U" + "de0" * 10 + "03", "デモファン 湯けむり次郎", {"likes_super_sento": 1, "live_games_per_year": 12}),
    ("U" + "de0" * 10 + "04", "デモファン サウナ三郎", {"likes_super_sento": 1, "live_games_per_year": 3}),
    # Goes to games but not to the baths: the campaign is not for her.
    ("U" + "de0" * 10 + "05", "デモファン 観戦さくら", {"likes_super_sento": 0, "live_games_per_year": 10}),
)
DEMO_RULE: dict[str, Any] = {
    "all": [
        {"item": "likes_super_sento", "op": "=", "value": 1},
        {"item": "live_games_per_year", "op": ">=", "value": 3},
    ],
    # Fans who never answered the bath question but whose answers predict a yes.
    "lookalike": {"item": "likes_super_sento", "min_score": 0.7},
}


@dataclass(frozen=True)
class DemoCoupons:
    partner_id: int
    campaign_id: int
    fans_added: int


def seed_demo_coupons(session: Session, catalog: Catalog, consent_version: str, now: datetime) -> DemoCoupons:
    """Add the demo shop, its active campaign, the demo LINE fans and the lookalike scores, once."""
    partner = session.scalars(select(Partner).where(Partner.name == DEMO_SHOP_NAME)).first()
    if partner is None:
        partner = create_partner(
            session,
            name=DEMO_SHOP_NAME,
            access_code=DEMO_SHOP_CODE,
            now=now,
            category="スーパー銭湯",
            address="アリーナから徒歩5分",
        )
    added = 0
    for user_id, _, answers in DEMO_FANS:
        if session.scalar(select(Fan.id).where(Fan.line_user_id == user_id)) is not None:
            continue
        fan = Fan(
            line_user_id=user_id,
            source="line",
            is_following=True,
            followed_at=now - timedelta(days=14),
            consented_at=now - timedelta(days=14),
            consent_version=consent_version,
            created_at=now - timedelta(days=14),
        )
        session.add(fan)
        session.flush()
        session.add_all(
            Answer(fan_id=fan.id, item_id=item, value=value, answered_at=now - timedelta(days=13))
            for item, value in answers.items()
        )
        added += 1
    campaign = session.scalars(select(Campaign).where(Campaign.title == DEMO_CAMPAIGN_TITLE)).first()
    if campaign is None:
        campaign = Campaign(
            partner_id=partner.id,
            title=DEMO_CAMPAIGN_TITLE,
            offer_text="入館料から200円引き（タオル付き）",
            terms="お一人様1回限り。他の割引との併用はできません。",
            valid_hours=24 * 30,
            total_cap=1000,
            target_rule=DEMO_RULE,
            holdout_share=0.10,
            state="active",
            created_at=now,
            updated_at=now,
        )
        session.add(campaign)
    if session.scalars(select(Campaign).where(Campaign.title == DEMO_POSTGAME_TITLE)).first() is None:
        # Sent by the scheduler after every home game the marketer marks final.
        session.add(
            Campaign(
                partner_id=partner.id,
                title=DEMO_POSTGAME_TITLE,
                offer_text="当日の試合チケットの提示で岩盤浴が無料",
                terms="試合当日と翌日に限ります。",
                valid_hours=36,
                total_cap=5000,
                target_rule=DEMO_RULE,
                holdout_share=0.10,
                state="active",
                all_home_games=True,
                per_fan_limit=30,  # one per home game, for the whole season
                win_text="勝利おめでとうございます！今日の疲れは湯の郷で。岩盤浴無料クーポンをどうぞ。",
                loss_text="本日もご声援ありがとうございました！湯の郷で一息ついてください。",
                created_at=now,
                updated_at=now,
            )
        )
    session.flush()
    if added:
        # Without answers to learn from, the rule's answered conditions still select fans.
        with contextlib.suppress(LookalikeError):
            run_scoring(session, catalog, "likes_super_sento", consent_version, now)
    return DemoCoupons(partner.id, campaign.id, added)


def add_demo_fans_to_emulator(app: Flask) -> None:
    """Make the demo fans friends of the account in the mounted emulator (kept in its store)."""
    emulator = app.extensions.get("line_emulator_app")
    if emulator is None:
        return
    state = emulator.extensions["line_emulator"]
    for user_id, name, _ in DEMO_FANS:
        if state.get_user(user_id) is None:
            state.create_user(name, user_id=user_id)
        state.set_following(user_id, True)


def send_demo_campaign(settings: Settings, catalog: Catalog, campaign_id: int, now: datetime) -> SendReport:
    """Issue and push the demo campaign (coupons already sent are not sent again)."""
    engine = make_engine(settings.database_url)
    client = LineClient(settings)
    try:
        return send_campaign(make_session_factory(engine), client, settings, catalog, campaign_id, now)
    finally:
        client.close()
        engine.dispose()
