"""partners, campaigns, coupons, audiences, lookalike scores

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 21:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import data.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = data.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("access_code_hash", sa.String(255), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("partner_id", Id, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("offer_text", sa.Text(), nullable=False),
        sa.Column("image_url", sa.String(1000), nullable=True),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("valid_from", When(), nullable=True),
        sa.Column("valid_until", When(), nullable=True),
        sa.Column("valid_hours", sa.Integer(), nullable=True),
        sa.Column("per_fan_limit", sa.Integer(), nullable=False),
        sa.Column("total_cap", sa.Integer(), nullable=False),
        sa.Column("issued_count", sa.Integer(), nullable=False),
        sa.Column("target_rule", sa.JSON(), nullable=False),
        sa.Column("holdout_share", sa.Float(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("updated_at", When(), nullable=False),
        sa.CheckConstraint("total_cap >= 0", name=op.f("ck_campaigns_cap_not_negative")),
        sa.CheckConstraint("issued_count >= 0", name=op.f("ck_campaigns_issued_not_negative")),
        sa.CheckConstraint(
            "holdout_share >= 0 AND holdout_share < 1", name=op.f("ck_campaigns_holdout_share_range")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_campaigns_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "coupons",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", Id, nullable=False),
        sa.Column("partner_id", Id, nullable=False),
        sa.Column("fan_id", Id, nullable=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("offer_title", sa.String(200), nullable=False),
        sa.Column("offer_text", sa.Text(), nullable=False),
        sa.Column("offer_terms", sa.Text(), nullable=False),
        sa.Column("issued_at", When(), nullable=False),
        sa.Column("valid_from", When(), nullable=False),
        sa.Column("expires_at", When(), nullable=False),
        sa.Column("redeemed_at", When(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_coupons_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("fk_coupons_partner_id_partners")),
        sa.ForeignKeyConstraint(
            ["fan_id"], ["fans.id"], name=op.f("fk_coupons_fan_id_fans"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("campaign_id", "fan_id", name="uq_coupons_campaign_fan"),
        sa.UniqueConstraint("code", name="uq_coupons_code"),
    )
    op.create_index("ix_coupons_fan_id", "coupons", ["fan_id"])
    op.create_table(
        "audience_members",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", Id, nullable=False),
        sa.Column("fan_id", Id, nullable=True),
        sa.Column("group", sa.String(16), nullable=False),
        sa.Column("matched_by", sa.String(16), nullable=False),
        sa.Column("recorded_at", When(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_audience_members_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["fan_id"], ["fans.id"], name=op.f("fk_audience_members_fan_id_fans"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audience_members")),
        sa.UniqueConstraint("campaign_id", "fan_id", name="uq_audience_members_campaign_fan"),
    )
    op.create_table(
        "lookalike_scores",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("fan_id", Id, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("run_at", When(), nullable=False),
        sa.Column("auc", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["fan_id"], ["fans.id"], name=op.f("fk_lookalike_scores_fan_id_fans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lookalike_scores")),
        sa.UniqueConstraint("item_id", "fan_id", name="uq_lookalike_scores_item_fan"),
    )


def downgrade() -> None:
    op.drop_table("lookalike_scores")
    op.drop_table("audience_members")
    op.drop_index("ix_coupons_fan_id", table_name="coupons")
    op.drop_table("coupons")
    op.drop_table("campaigns")
    op.drop_table("partners")
