"""Scheduled jobs claim their period once (job_runs): the weekly digest and the monthly 通报
go out exactly once whatever the number of bot processes, and after a restart.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job", "period", name="pk_job_runs"),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
