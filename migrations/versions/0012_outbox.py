"""push outbox: one row per message, written before anything is sent

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import data.models

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = data.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("retry_key", sa.String(36), nullable=False),
        sa.Column("fan_id", Id, nullable=True),
        sa.Column("line_user_id", sa.String(64), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("batch_key", sa.String(36), nullable=True),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", When(), nullable=False),
        sa.Column("first_attempt_at", When(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("accepted_request_id", sa.String(64), nullable=True),
        sa.Column("campaign_id", Id, nullable=True),
        sa.Column("game_id", Id, nullable=True),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("sent_at", When(), nullable=True),
        sa.ForeignKeyConstraint(
            ["fan_id"], ["fans.id"], name=op.f("fk_outbox_messages_fan_id_fans"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint("retry_key", name="uq_outbox_messages_retry_key"),
    )
    op.create_index("ix_outbox_messages_queue", "outbox_messages", ["state", "priority", "id"])
    op.create_index("ix_outbox_messages_batch_key", "outbox_messages", ["batch_key"])
    op.create_index("ix_outbox_messages_fan_id", "outbox_messages", ["fan_id"])
    op.create_index("ix_outbox_messages_campaign_id", "outbox_messages", ["campaign_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_campaign_id", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_fan_id", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_batch_key", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_queue", table_name="outbox_messages")
    op.drop_table("outbox_messages")
