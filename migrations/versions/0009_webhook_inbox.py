"""webhook inbox: events are recorded, then handled by workers

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 21:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import data.models

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_events") as batch:
        batch.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch.add_column(sa.Column("position", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("shard", sa.Integer(), server_default="0", nullable=False))
        # Rows from before the inbox were handled on the request path.
        batch.add_column(sa.Column("status", sa.String(length=16), server_default="done", nullable=False))
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("handled_at", data.models.UTCDateTime(timezone=True), nullable=True))
        batch.create_index(
            "ix_webhook_events_pending", ["status", "shard", "received_at", "position"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_index("ix_webhook_events_pending")
        for column in ("handled_at", "last_error", "attempts", "status", "shard", "position", "payload"):
            batch.drop_column(column)
