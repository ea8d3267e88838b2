"""A standing cast for coupon tests: a partner, a campaign, consented fans with answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from coupons.models import Campaign, Partner
from coupons.partners import create_partner
from data.catalog import Catalog, load_catalog
from data.models import Answer, Fan

NOW = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)
VERSION = "2026-11"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def partner(db_session: Session) -> Partner:
    shop = create_partner(
        db_session, name="湯の郷 アリーナ前店", access_code="sento-2026", now=NOW, category="スーパー銭湯"
    )
    db_session.commit()
    return shop


@pytest.fixture
def make_campaign(db_session: Session, partner: Partner) -> Callable[..., Campaign]:
    def make(**overrides: Any) -> Campaign:
        values: dict[str, Any] = {
            "partner_id": partner.id,
            "title": "試合後の入浴 200円引き",
            "offer_text": "入館料から200円引き",
            "terms": "お一人様1回限り",
            "valid_hours": 48,
            "total_cap": 1000,
            "target_rule": {"all": [{"item": "likes_super_sento", "op": "=", "value": 1}]},
            "holdout_share": 0.0,
            "state": "active",
            "created_at": NOW,
            "updated_at": NOW,
        }
        values.update(overrides)
        campaign = Campaign(**values)
        db_session.add(campaign)
        db_session.commit()
        return campaign

    return make


@pytest.fixture
def make_fan(db_session: Session) -> Callable[..., Fan]:
    counter = iter(range(1, 100_000))

    def make(answers: dict[str, float] | None = None, **overrides: Any) -> Fan:
        number = next(counter)
        values: dict[str, Any] = {
            "line_user_id": f"U{number:032x}",
            "source": "line",
            "is_following": True,
            "followed_at": NOW - timedelta(days=30),
            "consented_at": NOW - timedelta(days=29),
            "consent_version": VERSION,
        }
        values.update(overrides)
        fan = Fan(**values)
        db_session.add(fan)
        db_session.flush()
        for item_id, value in (answers or {}).items():
            db_session.add(Answer(fan_id=fan.id, item_id=item_id, value=value, answered_at=NOW))
        db_session.commit()
        return fan

    return make
