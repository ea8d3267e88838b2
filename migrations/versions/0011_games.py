"""games: the team's schedule and results; campaigns attached to games

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 00:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import data.models

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "games",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("opponent", sa.String(length=200), nullable=False),
        sa.Column("home", sa.Boolean(), nullable=False),
        sa.Column("venue", sa.String(length=200), nullable=False),
        sa.Column("tipoff_at", data.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("our_score", sa.Integer(), nullable=True),
        sa.Column("their_score", sa.Integer(), nullable=True),
        sa.Column("ended_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", data.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", data.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_games")),
        sa.UniqueConstraint("key", name=op.f("uq_games_key")),
    )
    op.create_index(op.f("ix_games_tipoff_at"), "games", ["tipoff_at"], unique=False)
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("game_id", Id, nullable=True))
        batch.add_column(sa.Column("all_home_games", sa.Boolean(), server_default="0", nullable=False))
        batch.add_column(sa.Column("win_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("loss_text", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("quiet_hours_policy", sa.String(length=8), server_default="wait", nullable=False)
        )
        batch.create_foreign_key(batch.f("fk_campaigns_game_id_games"), "games", ["game_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_constraint(batch.f("fk_campaigns_game_id_games"), type_="foreignkey")
        for column in ("quiet_hours_policy", "loss_text", "win_text", "all_home_games", "game_id"):
            batch.drop_column(column)
    op.drop_index(op.f("ix_games_tipoff_at"), table_name="games")
    op.drop_table("games")
