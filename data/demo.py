"""Demo respondents for `make run`: plausible answers that reproduce the source material's finding.

Answers come from a few latent traits (enthusiasm for sports, liking baths, digital
habits, outdoor life, food and drink): each item leans on one or two traits plus noise,
so items of a kind correlate, and watching games live goes with super sento, as the
regional survey found. Every respondent skips a good part of the items, as real fans do.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from data.catalog import Catalog, Item, load_catalog
from data.games import GameRow
from data.models import Answer, Fan

TOKYO = ZoneInfo("Asia/Tokyo")

DEMO_RESPONDENTS = 1500
SEED = 20261128
TRAITS = ("sports", "baths", "digital", "outdoor", "food")
BATH_ITEMS = {"likes_super_sento", "likes_sauna", "goes_to_onsen"}
CATEGORY_TRAITS: dict[str, dict[str, float]] = {
    "spectating": {"sports": 0.8},
    "fandom_media": {"sports": 0.65},
    "sports_interest": {"sports": 0.6},
    "exercise": {"sports": 0.3, "outdoor": 0.35},
    "digital_media": {"digital": 0.55},
    "shopping_payment": {"digital": 0.45},
    "leisure_outdoor": {"outdoor": 0.5},
    "food_drink": {"food": 0.5},
    "entertainment": {"food": 0.25, "digital": 0.25},
}


def loadings(item: Item) -> dict[str, float]:
    if item.id in BATH_ITEMS:
        # The finding the product is built on: sports fans go to the baths.
        return {"sports": 0.6, "baths": 0.5}
    return CATEGORY_TRAITS.get(item.category, {})


def demo_answers(
    catalog: Catalog, respondents: int, seed: int = SEED
) -> tuple[dict[str, np.ndarray], np.ndarray, np.random.Generator]:
    """Answer values per item and the answered mask (respondents × items, catalog order).

    Also returns the generator, positioned after drawing them, for callers that go on
    drawing (answer times).
    """
    rng = np.random.default_rng(seed)
    traits = rng.standard_normal((respondents, len(TRAITS)))
    columns: dict[str, np.ndarray] = {}
    for item in catalog.items:
        weights = loadings(item)
        signal = sum((w * traits[:, TRAITS.index(t)] for t, w in weights.items()), np.zeros(respondents))
        noise_scale = np.sqrt(max(0.05, 1.0 - sum(w * w for w in weights.values())))
        latent = signal + noise_scale * rng.standard_normal(respondents)
        if item.is_yes_no:
            columns[item.id] = (latent > rng.uniform(-0.6, 0.9)).astype(float)
        else:
            assert item.max is not None
            typical = {"yen_per_month": 3000.0, "minutes_per_day": 40.0}.get(item.unit or "", 3.0)
            columns[item.id] = np.clip(np.round(typical * np.exp(0.6 * latent)), 0, item.max)
    answered = rng.random((respondents, len(catalog.items))) < rng.uniform(0.4, 0.75, (respondents, 1))
    return columns, answered, rng


def load_demo_data(
    session: Session, catalog: Catalog | None = None, respondents: int = DEMO_RESPONDENTS
) -> int:
    """Add demo respondents once; return how many were created (0 when already there)."""
    if session.scalar(select(func.count()).select_from(Fan).where(Fan.source == "demo")):
        return 0
    catalog = catalog or load_catalog()
    columns, answered, rng = demo_answers(catalog, respondents)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    fans = [
        Fan(source="demo", external_ref=f"demo-{index:04d}", created_at=start) for index in range(respondents)
    ]
    session.add_all(fans)
    session.flush()
    offsets = rng.integers(0, 24 * 55, respondents)
    rows = [
        {
            "fan_id": fan.id,
            "item_id": item.id,
            "value": float(columns[item.id][index]),
            "answered_at": start + timedelta(hours=int(offsets[index])),
        }
        for index, fan in enumerate(fans)
        for column, item in enumerate(catalog.items)
        if answered[index, column]
    ]
    session.execute(insert(Answer), rows)
    return respondents


DEMO_OPPONENTS = (
    ("秋田ノーザンハピネッツ", "CNAアリーナ★あきた"),
    ("仙台89ERS", "ゼビオアリーナ仙台"),
    ("群馬クレインサンダーズ", "オープンハウスアリーナ太田"),
    ("千葉ジェッツ", "LaLa arena TOKYO-BAY"),
    ("琉球ゴールデンキングス", "沖縄サントリーアリーナ"),
    ("宇都宮ブレックス", "日環アリーナ栃木"),
)
DEMO_HOME_ARENA = "みちのくアリーナ"


def demo_season(now: datetime) -> list[GameRow]:
    """A season around ``now``: a weekend pair of games every week.

    Relative to the day it is loaded, so the demo always has a game that just ended (the last
    Saturday's, to mark final) and games to come. Keys are the dates, so loading it again on a
    later day adds the new weekends and keeps the old ones.
    """
    local = now.astimezone(TOKYO)
    saturday = (local - timedelta(days=(local.weekday() - 5) % 7)).date()
    rows: list[GameRow] = []
    for week in range(-1, 9):
        first = saturday + timedelta(weeks=week)
        opponent, away_arena = DEMO_OPPONENTS[(week + 1) % len(DEMO_OPPONENTS)]
        # The last weekend and this one at home (a game to mark final now), then away and home in turn.
        home = week <= 0 or week % 2 == 0
        for day, clock in ((first, time(15, 5)), (first + timedelta(days=1), time(14, 5))):
            rows.append(
                GameRow(
                    key=f"demo-{day.isoformat()}",
                    tipoff_at=datetime.combine(day, clock, tzinfo=TOKYO),
                    opponent=opponent,
                    home=home,
                    venue=DEMO_HOME_ARENA if home else away_arena,
                    line=len(rows) + 1,
                )
            )
    # A home game that tipped off an hour ago, so a newcomer can mark it final right away.
    started = (local - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    rows.append(
        GameRow(
            key=f"demo-{local.date().isoformat()}-today",
            tipoff_at=started,
            opponent="宇都宮ブレックス",
            home=True,
            venue=DEMO_HOME_ARENA,
            line=len(rows) + 1,
        )
    )
    return rows


def settle_past_demo_games(session: Session, now: datetime) -> int:
    """Give demo games long over a result and a post-game job already done: they are history.

    Without this, the scheduler would report every past demo game as a missed post-game send.
    """
    from data.games import Game

    over = now - timedelta(hours=3)
    settled = 0
    for game in session.scalars(
        select(Game).where(Game.key.like("demo-%"), Game.state == "scheduled", Game.tipoff_at < over)
    ):
        seed = sum(game.key.encode())
        game.state, game.our_score, game.their_score = "final", 70 + seed % 25, 65 + seed % 23
        game.ended_at = game.tipoff_at + timedelta(hours=2)
        game.post_game_state, game.post_game_at = "done", now
        settled += 1
    session.flush()
    return settled
