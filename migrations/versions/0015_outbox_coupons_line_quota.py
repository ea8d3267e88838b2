"""outbox: which coupons each message carries, cancelled messages; the stored LINE monthly quota

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import data.models

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox_coupons",
        sa.Column("retry_key", sa.String(length=36), nullable=False),
        sa.Column("coupon_id", Id, nullable=False),
        sa.Column("carried", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["retry_key"],
            ["outbox_messages.retry_key"],
            name=op.f("fk_outbox_coupons_retry_key_outbox_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("retry_key", "coupon_id", name=op.f("pk_outbox_coupons")),
    )
    op.create_table(
        "line_quota",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("monthly_limit", sa.Integer(), nullable=True),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("checked_at", data.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_quota")),
    )
    op.create_index("ix_outbox_messages_game_id", "outbox_messages", ["game_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_game_id", table_name="outbox_messages")
    op.drop_table("line_quota")
    op.drop_table("outbox_coupons")
