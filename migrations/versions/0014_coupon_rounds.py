"""coupons: a per-fan limit above one (seq) and one coupon per fan per occasion

A campaign's per-fan limit caps how many of its coupons one fan may hold over time (one per
home game, say). ``seq`` numbers a fan's coupons of a campaign (1..limit) and is unique per
(campaign, fan), so racing issuers can never pass the limit; ``occasion`` names what a coupon
was issued for (a game, a day's manual send) and is unique per (campaign, fan) too, so running
the same send twice issues nothing new. Existing coupons become seq 1 of occasion "".

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 03:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("coupons") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("occasion", sa.String(length=64), nullable=False, server_default=""))
        batch.drop_constraint(op.f("uq_coupons_campaign_fan"), type_="unique")
        batch.create_unique_constraint(op.f("uq_coupons_campaign_fan_seq"), ["campaign_id", "fan_id", "seq"])
        batch.create_unique_constraint(
            op.f("uq_coupons_campaign_fan_occasion"), ["campaign_id", "fan_id", "occasion"]
        )
    with op.batch_alter_table("campaigns") as batch:
        batch.create_check_constraint(op.f("ck_campaigns_per_fan_limit_positive"), "per_fan_limit >= 1")


def downgrade() -> None:
    # Refused rather than silently losing coupons: seq > 1 rows cannot fit the old one-per-fan key.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM coupons WHERE seq > 1")).scalar():
        raise RuntimeError("coupons beyond a fan's first per campaign exist; cannot downgrade below 0014")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_constraint(op.f("ck_campaigns_per_fan_limit_positive"), type_="check")
    with op.batch_alter_table("coupons") as batch:
        batch.drop_constraint(op.f("uq_coupons_campaign_fan_occasion"), type_="unique")
        batch.drop_constraint(op.f("uq_coupons_campaign_fan_seq"), type_="unique")
        batch.create_unique_constraint(op.f("uq_coupons_campaign_fan"), ["campaign_id", "fan_id"])
        batch.drop_column("occasion")
        batch.drop_column("seq")
