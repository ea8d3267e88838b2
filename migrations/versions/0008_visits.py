"""shop check-in codes and visits

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 21:35:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import data.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
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
