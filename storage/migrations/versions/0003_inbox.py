"""The inbox: updates fetched from a channel, kept until handled, so that a crash between
fetching an update and handling it does not lose what the person sent. Processed event keys
get an index on their time, so that old ones can be pruned.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("channel", "key", name="uq_inbox_channel_key"),
    )
    op.create_index("ix_processed_events_at", "processed_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_processed_events_at", table_name="processed_events")
    op.drop_table("inbox")
