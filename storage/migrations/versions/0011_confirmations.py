"""A submitted inspection's sign-off by its site (项目确认) and the appeals against its
findings (申诉) with their decisions.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ENUM = sa.String(32)


def _fk(name: str, target: str, constraint: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.Integer, sa.ForeignKey(target, name=constraint), nullable=nullable)


def _at(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "confirmations",
        _fk("inspection_id", "inspections.id", "fk_confirmations_inspection_id_inspections"),
        _fk("site_id", "sites.id", "fk_confirmations_site_id_sites"),
        sa.Column("status", ENUM, nullable=False),
        _at("deadline"),
        _at("remind_at"),
        _at("reminded_at", nullable=True),
        sa.Column("how", ENUM, nullable=True),
        _fk("confirmed_by", "people.id", "fk_confirmations_confirmed_by_people", nullable=True),
        _at("confirmed_at", nullable=True),
        _at("created_at"),
        sa.PrimaryKeyConstraint("inspection_id", name="pk_confirmations"),
    )
    op.create_index("ix_confirmations_status_deadline", "confirmations", ["status", "deadline"])
    op.create_index("ix_confirmations_site_id_status", "confirmations", ["site_id", "status"])
    op.create_table(
        "appeals",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("inspection_id", "inspections.id", "fk_appeals_inspection_id_inspections"),
        sa.Column("item_no", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        _fk("filed_by", "people.id", "fk_appeals_filed_by_people"),
        _at("filed_at"),
        sa.Column("decision", ENUM, nullable=True),
        _fk("decided_by", "people.id", "fk_appeals_decided_by_people", nullable=True),
        _at("decided_at", nullable=True),
        sa.Column("decision_reason", sa.Text, nullable=True),
        sa.Column("score_before", sa.Float, nullable=True),
        sa.Column("score_after", sa.Float, nullable=True),
        sa.Column("label_after", sa.String(64), nullable=True),
        sa.UniqueConstraint("inspection_id", "item_no", name="uq_appeals_inspection_id_item_no"),
        sa.PrimaryKeyConstraint("id", name="pk_appeals"),
    )


def downgrade() -> None:
    op.drop_table("appeals")
    op.drop_index("ix_confirmations_site_id_status", "confirmations")
    op.drop_index("ix_confirmations_status_deadline", "confirmations")
    op.drop_table("confirmations")
