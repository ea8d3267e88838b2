"""partners, shop check-in codes and visits

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 21:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import data.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("access_code_hash", sa.String(length=256), nullable=True),
        sa.Column("access_code_set_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", data.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("name", name=op.f("uq_partners_name")),
    )
    op.create_table(
        "checkin_codes",
        sa.Column("partner_id", BIGINT_ID, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("created_at", data.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_checkin_codes_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_checkin_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_checkin_codes_code")),
    )
    op.create_table(
        "visits",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("fan_id", BIGINT_ID, nullable=False),
        sa.Column("partner_id", BIGINT_ID, nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=False),
        sa.Column("visited_at", data.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fan_id"], ["fans.id"], name=op.f("fk_visits_fan_id_fans"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_visits_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
        sa.UniqueConstraint("fan_id", "partner_id", "visited_on", name=op.f("uq_visits_fan_id")),
    )
    op.create_index(op.f("ix_visits_fan_id"), "visits", ["fan_id"], unique=False)
    op.create_index(op.f("ix_visits_partner_id"), "visits", ["partner_id"], unique=False)


def downgrade() -> None:
    op.drop_table("visits")
    op.drop_table("checkin_codes")
    op.drop_table("partners")
