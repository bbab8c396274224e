"""Evidence keeps the capture time its photo's EXIF carries (the camera's wall clock, no zone)
and the photo's perceptual hash.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.add_column(sa.Column("taken_at", sa.DateTime(timezone=False), nullable=True))
        batch.add_column(sa.Column("phash", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.drop_column("phash")
        batch.drop_column("taken_at")
