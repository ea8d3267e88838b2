"""campaign delivery: fanbot's own coupon card, or LINE's Coupon API

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 23:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import data.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        # "card": fanbot's Flex coupon card, verified at the shop; "line_coupon": LINE's Coupon API.
        batch.add_column(sa.Column("delivery", sa.String(length=16), server_default="card", nullable=False))
        batch.add_column(sa.Column("line_coupon_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("coupons") as batch:
        # When the coupon's card was accepted by LINE for this fan; NULL: not sent yet.
        batch.add_column(sa.Column("sent_at", data.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("coupons") as batch:
        batch.drop_column("sent_at")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("line_coupon_id")
        batch.drop_column("delivery")
