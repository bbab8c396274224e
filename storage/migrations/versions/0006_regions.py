"""Regions (区域) grouping sites, and roles held at a region or company-wide as well as at a
site: a role row names a site, a region, or neither (the whole company).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("region_id", sa.Integer, nullable=True))
        batch.create_foreign_key("fk_sites_region_id_regions", "regions", ["region_id"], ["id"])
        batch.create_index("ix_sites_region_id", ["region_id"])
    with op.batch_alter_table("roles") as batch:
        batch.add_column(sa.Column("region_id", sa.Integer, nullable=True))
        batch.alter_column("site_id", existing_type=sa.Integer, nullable=True)
        batch.create_foreign_key("fk_roles_region_id_regions", "regions", ["region_id"], ["id"])
        batch.create_check_constraint("ck_roles_one_scope", "site_id IS NULL OR region_id IS NULL")
        batch.create_index("ix_roles_region_id_role", ["region_id", "role"])
    op.create_index(
        "uq_roles_region",
        "roles",
        ["person_id", "role", "region_id"],
        unique=True,
        sqlite_where=sa.text("region_id IS NOT NULL"),
        postgresql_where=sa.text("region_id IS NOT NULL"),
    )
    op.create_index(
        "uq_roles_company",
        "roles",
        ["person_id", "role"],
        unique=True,
        sqlite_where=sa.text("site_id IS NULL AND region_id IS NULL"),
        postgresql_where=sa.text("site_id IS NULL AND region_id IS NULL"),
    )


def downgrade() -> None:
    """Back to per-site roles only: region and company roles are dropped."""
    op.drop_index("uq_roles_company", table_name="roles")
    op.drop_index("uq_roles_region", table_name="roles")
    op.execute("DELETE FROM roles WHERE site_id IS NULL")
    with op.batch_alter_table("roles") as batch:
        batch.drop_index("ix_roles_region_id_role")
        batch.drop_constraint("ck_roles_one_scope", type_="check")
        batch.drop_constraint("fk_roles_region_id_regions", type_="foreignkey")
        batch.drop_column("region_id")
        batch.alter_column("site_id", existing_type=sa.Integer, nullable=False)
    with op.batch_alter_table("sites") as batch:
        batch.drop_index("ix_sites_region_id")
        batch.drop_constraint("fk_sites_region_id_regions", type_="foreignkey")
        batch.drop_column("region_id")
    op.drop_table("regions")
