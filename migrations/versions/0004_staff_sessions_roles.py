"""staff session tokens and disabled accounts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 20:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import data.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("session_token", sa.String(length=64), server_default="", nullable=False))
        batch.add_column(sa.Column("disabled_at", data.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("disabled_at")
        batch.drop_column("session_token")
