"""outbox: a covering index in the sender's claim order (priority descending, then id)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 03:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_messages_claim",
        "outbox_messages",
        ["state", sa.text("priority DESC"), "id", "next_attempt_at", "kind", "batch_key"],
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_claim", table_name="outbox_messages")
