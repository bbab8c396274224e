"""A site's coordinates, and the GPS position a photo's EXIF carries: a photo taken farther
from its site than the company's radius is flagged (docs/EVIDENCE.md).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("sites", "evidence"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("latitude", sa.Float, nullable=True))
            batch.add_column(sa.Column("longitude", sa.Float, nullable=True))


def downgrade() -> None:
    for table in ("evidence", "sites"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("longitude")
            batch.drop_column("latitude")
