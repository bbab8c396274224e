"""Project group chats (项目群) bound to a site or a region, and the one-use codes that bind a
Telegram group.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _fk(name: str, target: str, constraint: str) -> sa.Column[Any]:
    return sa.Column(name, sa.Integer, sa.ForeignKey(target, name=constraint), nullable=True)


def _at(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "chat_groups",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("site_id", "sites.id", "fk_chat_groups_site_id_sites"),
        _fk("region_id", "regions.id", "fk_chat_groups_region_id_regions"),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=True),
        sa.Column("webhook_key", sa.String(200), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        _at("created_at"),
        _at("inactive_at", nullable=True),
        _at("removed_at", nullable=True),
        _at("fixes_posted_until", nullable=True),
        sa.CheckConstraint("site_id IS NULL OR region_id IS NULL", name="one_scope"),
        sa.PrimaryKeyConstraint("id", name="pk_chat_groups"),
    )
    for scope in ("site", "region"):
        where = sa.text(f"removed_at IS NULL AND {scope}_id IS NOT NULL")
        op.create_index(
            f"uq_chat_groups_{scope}_kind",
            "chat_groups",
            [f"{scope}_id", "kind"],
            unique=True,
            sqlite_where=where,
            postgresql_where=where,
        )
    op.create_index("ix_chat_groups_kind_chat_id", "chat_groups", ["kind", "chat_id"])
    op.create_table(
        "group_codes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(64), nullable=False),
        _fk("site_id", "sites.id", "fk_group_codes_site_id_sites"),
        _fk("region_id", "regions.id", "fk_group_codes_region_id_regions"),
        _at("created_at"),
        _at("expires_at"),
        _at("used_at", nullable=True),
        sa.CheckConstraint("site_id IS NULL OR region_id IS NULL", name="one_scope"),
        sa.PrimaryKeyConstraint("id", name="pk_group_codes"),
        sa.UniqueConstraint("code", name="uq_group_codes_code"),
    )


def downgrade() -> None:
    op.drop_table("group_codes")
    op.drop_index("ix_chat_groups_kind_chat_id", "chat_groups")
    op.drop_index("uq_chat_groups_region_kind", "chat_groups")
    op.drop_index("uq_chat_groups_site_kind", "chat_groups")
    op.drop_table("chat_groups")
