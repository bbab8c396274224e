"""An index for the retention job: the outbox's delivered messages of one channel and kind,
oldest first, so that forgetting old callback answers and messages reads only those.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_channel_kind_created_at", "outbox", ["channel", "kind", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_channel_kind_created_at", table_name="outbox")
