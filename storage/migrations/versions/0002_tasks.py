"""Rectification: tasks, their events, extension requests, reminders; audit log, settings.
Notes and evidence may now belong to a task instead of an inspection item.

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-27
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ENUM = sa.String(32)
_OPEN_REMINDER = "sent_at IS NULL AND cancelled_at IS NULL"


def _id() -> sa.Column[Any]:
    return sa.Column("id", sa.Integer, primary_key=True)


def _fk(name: str, target: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.Integer, sa.ForeignKey(target), nullable=nullable)


def _at(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "tasks",
        _id(),
        _fk("site_id", "sites.id"),
        _fk("inspection_id", "inspections.id", nullable=True),
        sa.Column("item_no", sa.Integer),
        sa.Column("finding", sa.Text, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("severity", ENUM, nullable=False),
        _fk("responsible_person_id", "people.id", nullable=True),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("due_date", sa.Date),
        sa.Column("remark", sa.Text),
        _fk("created_by", "people.id", nullable=True),
        _at("created_at"),
        _at("closed_at", nullable=True),
        _at("updated_at"),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_tasks_responsible_person_id_status_due_date",
        "tasks",
        ["responsible_person_id", "status", "due_date"],
    )
    op.create_index("ix_tasks_site_id_status_due_date", "tasks", ["site_id", "status", "due_date"])
    op.create_index("ix_tasks_inspection_id_item_no", "tasks", ["inspection_id", "item_no"])
    op.create_table(
        "task_events",
        _id(),
        _fk("task_id", "tasks.id"),
        _at("at"),
        _fk("actor_id", "people.id", nullable=True),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("from_status", ENUM),
        sa.Column("to_status", ENUM),
        sa.Column("reason", sa.Text),
        sa.Column("data", JSON, nullable=False),
    )
    op.create_index("ix_task_events_task_id_id", "task_events", ["task_id", "id"])
    op.create_table(
        "extension_requests",
        _id(),
        _fk("task_id", "tasks.id"),
        _fk("requested_by", "people.id"),
        sa.Column("requested_due_date", sa.Date, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("status", ENUM, nullable=False),
        _fk("decided_by", "people.id", nullable=True),
        _at("decided_at", nullable=True),
        _at("created_at"),
    )
    op.create_index("ix_extension_requests_task_id", "extension_requests", ["task_id"])
    op.create_index(
        "ix_extension_requests_status_task_id", "extension_requests", ["status", "task_id"]
    )
    op.create_table(
        "reminders",
        _id(),
        _fk("task_id", "tasks.id"),
        _fk("person_id", "people.id"),
        sa.Column("kind", sa.String(32), nullable=False),
        _at("due_at"),
        _at("sent_at", nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("claimed_by", sa.String(128)),
        _at("claim_expires_at", nullable=True),
        _at("cancelled_at", nullable=True),
        _at("created_at"),
        sa.UniqueConstraint("task_id", "person_id", "kind", "due_at"),
    )
    op.create_index(
        "ix_reminders_due",
        "reminders",
        ["due_at"],
        sqlite_where=sa.text(_OPEN_REMINDER),
        postgresql_where=sa.text(_OPEN_REMINDER),
    )
    op.create_table(
        "audit_log",
        _id(),
        _at("at"),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200)),
        sa.Column("details", JSON, nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "settings",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", JSON, nullable=False),
        _at("updated_at"),
    )
    for table in ("notes", "evidence"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("task_id", sa.Integer, nullable=True))
            batch.alter_column("inspection_id", existing_type=sa.Integer, nullable=True)
            batch.alter_column("item_no", existing_type=sa.Integer, nullable=True)
            batch.create_foreign_key(f"fk_{table}_task_id_tasks", "tasks", ["task_id"], ["id"])
            batch.create_index(f"ix_{table}_task_id", ["task_id"])


def downgrade() -> None:
    for table in ("notes", "evidence"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_task_id")
            batch.drop_constraint(f"fk_{table}_task_id_tasks", type_="foreignkey")
            batch.drop_column("task_id")
            batch.alter_column("inspection_id", existing_type=sa.Integer, nullable=False)
            batch.alter_column("item_no", existing_type=sa.Integer, nullable=False)
    for name in (
        "settings",
        "audit_log",
        "reminders",
        "extension_requests",
        "task_events",
        "tasks",
    ):
        op.drop_table(name)
