"""analysis jobs started from the admin pages

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 20:45:00
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


def upgrade() -> None:
    op.create_table(
        "analysis_jobs",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(length=100), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", data.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("respondents", sa.Integer(), nullable=True),
        sa.Column("items", sa.Integer(), nullable=True),
        sa.Column("pairs", sa.Integer(), nullable=True),
        sa.Column("significant", sa.Integer(), nullable=True),
        sa.Column("out_dir", sa.String(length=500), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_jobs")),
        sa.UniqueConstraint("active", name=op.f("uq_analysis_jobs_active")),
    )


def downgrade() -> None:
    op.drop_table("analysis_jobs")
