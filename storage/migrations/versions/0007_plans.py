"""Inspection plans (周检 / 月检 / 交叉检查), their assigned inspectors and their occurrences
(one per period and site, with the notices that went out).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ENUM = sa.String(32)


def _id() -> sa.Column[Any]:
    return sa.Column("id", sa.Integer, primary_key=True)


def _fk(name: str, target: str, constraint: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.Integer, sa.ForeignKey(target, name=constraint), nullable=nullable)


def _at(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "plans",
        _id(),
        _fk("site_id", "sites.id", "fk_plans_site_id_sites", nullable=True),
        _fk("region_id", "regions.id", "fk_plans_region_id_regions", nullable=True),
        sa.Column("std_id", sa.String(48), nullable=False),
        sa.Column("every", ENUM, nullable=False),
        sa.Column("window_from", sa.Integer, nullable=False),
        sa.Column("window_to", sa.Integer, nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        _at("created_at"),
        _at("removed_at", nullable=True),
        sa.CheckConstraint("site_id IS NULL OR region_id IS NULL", name="one_scope"),
        sa.PrimaryKeyConstraint("id", name="pk_plans"),
    )
    op.create_table(
        "plan_inspectors",
        _id(),
        _fk("plan_id", "plans.id", "fk_plan_inspectors_plan_id_plans"),
        _fk("person_id", "people.id", "fk_plan_inspectors_person_id_people"),
        sa.UniqueConstraint("plan_id", "person_id", name="uq_plan_inspectors_plan_id_person_id"),
        sa.PrimaryKeyConstraint("id", name="pk_plan_inspectors"),
    )
    op.create_table(
        "plan_occurrences",
        _id(),
        _fk("plan_id", "plans.id", "fk_plan_occurrences_plan_id_plans"),
        _fk("site_id", "sites.id", "fk_plan_occurrences_site_id_sites"),
        sa.Column("period_start", sa.Date, nullable=False),
        _at("window_start"),
        _at("window_end"),
        _fk(
            "inspection_id",
            "inspections.id",
            "fk_plan_occurrences_inspection_id_inspections",
            nullable=True,
        ),
        _at("ended_at", nullable=True),
        _at("opened_at", nullable=True),
        _at("reminded_at", nullable=True),
        _at("closed_at", nullable=True),
        _at("created_at"),
        sa.UniqueConstraint(
            "plan_id",
            "site_id",
            "period_start",
            name="uq_plan_occurrences_plan_id_site_id_period_start",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_plan_occurrences"),
    )
    op.create_index(
        "ix_plan_occurrences_site_id_window_start",
        "plan_occurrences",
        ["site_id", "window_start"],
    )
    op.create_index("ix_plan_occurrences_window_end", "plan_occurrences", ["window_end"])
    op.create_index("ix_plan_occurrences_inspection_id", "plan_occurrences", ["inspection_id"])


def downgrade() -> None:
    op.drop_table("plan_occurrences")
    op.drop_table("plan_inspectors")
    op.drop_table("plans")
