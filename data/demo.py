"""Demo respondents for `make run`: plausible answers with the source material's pattern.

Fans who watch games live also tend to go to super sento; a few other pairs are
linked too, and every respondent skips most items, as real fans do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.catalog import Catalog, load_catalog
from data.models import Answer, Fan

DEMO_RESPONDENTS = 400
SEED = 20261128

# (driver, follower, strength): the follower's yes-probability moves with the driver.
PLANTED = [
    ("watches_sports_live_yearly", "likes_super_sento", 0.55),
    ("likes_watching_sports", "watches_sports_live_yearly", 0.6),
    ("in_fan_club", "owns_team_goods", 0.7),
    ("likes_sauna", "likes_super_sento", 0.5),
]


def load_demo_data(
    session: Session, catalog: Catalog | None = None, respondents: int = DEMO_RESPONDENTS
) -> int:
    """Add demo respondents once; return how many were created (0 when already there)."""
    if session.scalar(select(func.count()).select_from(Fan).where(Fan.source == "demo")):
        return 0
    catalog = catalog or load_catalog()
    rng = np.random.default_rng(SEED)
    items = [item for item in catalog.items if item.is_yes_no]
    base_rate = {item.id: float(rng.uniform(0.15, 0.6)) for item in items}
    start = datetime(2026, 10, 1, tzinfo=UTC)
    for index in range(respondents):
        fan = Fan(source="demo", external_ref=f"demo-{index:04d}", created_at=start)
        session.add(fan)
        latent = rng.random() < 0.5
        values: dict[str, float] = {}
        for item in items:
            probability = base_rate[item.id]
            values[item.id] = float(rng.random() < probability)
        for driver, follower, strength in PLANTED:
            if driver in values and follower in values and rng.random() < strength:
                values[follower] = values[driver]
        if latent and "likes_watching_sports" in values:
            values["likes_watching_sports"] = 1.0
        # Each respondent answers a random 30-60% of the items.
        answered = rng.random(len(items)) < rng.uniform(0.3, 0.6)
        when = start + timedelta(hours=int(rng.integers(0, 24 * 50)))
        for item, keep in zip(items, answered, strict=True):
            if keep:
                fan.answers.append(Answer(item_id=item.id, value=values[item.id], answered_at=when))
    session.flush()
    return respondents
