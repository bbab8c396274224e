"""Initial schema: sites, people, access, standards, inspections, conversations, outbox.

Revision ID: 0001
Revises:
Create Date: 2025-11-27
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ENUM = sa.String(32)


def _id() -> sa.Column[Any]:
    return sa.Column("id", sa.Integer, primary_key=True)


def _fk(name: str, target: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.Integer, sa.ForeignKey(target), nullable=nullable)


def _at(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "sites",
        _id(),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("address", sa.String(500), nullable=False, server_default=""),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("quiet_start", sa.String(5), nullable=False),
        sa.Column("quiet_end", sa.String(5), nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        _at("created_at"),
    )
    op.create_table(
        "people",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(64)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        _at("created_at"),
    )
    op.create_index("ix_people_name", "people", ["name"])
    op.create_table(
        "roles",
        _id(),
        _fk("person_id", "people.id"),
        _fk("site_id", "sites.id"),
        sa.Column("role", ENUM, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        _at("created_at"),
        sa.UniqueConstraint("person_id", "role", "site_id"),
    )
    op.create_index("ix_roles_site_id_role", "roles", ["site_id", "role"])
    op.create_table(
        "identities",
        _id(),
        _fk("person_id", "people.id"),
        sa.Column("channel", ENUM, nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("chat_id", sa.String(128)),
        sa.Column("display_name", sa.String(200)),
        _at("bound_at"),
        _at("revoked_at", nullable=True),
    )
    op.create_index(
        "uq_identities_active",
        "identities",
        ["channel", "external_id"],
        unique=True,
        sqlite_where=sa.text("revoked_at IS NULL"),
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_index("ix_identities_person_id", "identities", ["person_id"])
    op.create_table(
        "invites",
        _id(),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        _fk("person_id", "people.id"),
        sa.Column("channel", ENUM),
        sa.Column("role", ENUM),
        _fk("site_id", "sites.id", nullable=True),
        _at("created_at"),
        _at("expires_at"),
        _at("used_at", nullable=True),
        _at("revoked_at", nullable=True),
    )
    op.create_index("ix_invites_person_id", "invites", ["person_id"])
    op.create_table(
        "standards",
        _id(),
        sa.Column("std_id", sa.String(48), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("snapshot", JSON, nullable=False),
        _at("created_at"),
        sa.UniqueConstraint("std_id", "content_hash"),
    )
    op.create_table(
        "inspections",
        _id(),
        _fk("site_id", "sites.id"),
        _fk("standard_id", "standards.id"),
        sa.Column("std_id", sa.String(48), nullable=False),
        _fk("inspector_id", "people.id"),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("channel", ENUM),
        sa.Column("cursor_item_no", sa.Integer),
        _at("started_at"),
        _at("paused_at", nullable=True),
        _at("completed_at", nullable=True),
        _at("cancelled_at", nullable=True),
        sa.Column("score", sa.Float),
        sa.Column("max_score", sa.Float),
        _at("updated_at"),
    )
    op.create_index("ix_inspections_inspector_id_status", "inspections", ["inspector_id", "status"])
    op.create_index(
        "ix_inspections_site_id_status_completed_at",
        "inspections",
        ["site_id", "status", "completed_at"],
    )
    op.create_index(
        "ix_inspections_site_id_std_id_status_completed_at",
        "inspections",
        ["site_id", "std_id", "status", "completed_at"],
    )
    op.create_index("ix_inspections_status_completed_at", "inspections", ["status", "completed_at"])
    op.create_table(
        "answers",
        _id(),
        _fk("inspection_id", "inspections.id"),
        sa.Column("item_no", sa.Integer, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("max_score", sa.Float),
        sa.Column("not_applicable", sa.Boolean, nullable=False),
        sa.Column("level_label", sa.String(64)),
        sa.Column("details", JSON, nullable=False),
        _fk("answered_by", "people.id"),
        _at("answered_at"),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.UniqueConstraint("inspection_id", "item_no"),
    )
    op.create_table(
        "answer_revisions",
        _id(),
        _fk("inspection_id", "inspections.id"),
        sa.Column("item_no", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("max_score", sa.Float),
        sa.Column("not_applicable", sa.Boolean, nullable=False),
        sa.Column("level_label", sa.String(64)),
        sa.Column("details", JSON, nullable=False),
        _fk("answered_by", "people.id"),
        _at("answered_at"),
        sa.UniqueConstraint("inspection_id", "item_no", "revision"),
    )
    op.create_table(
        "notes",
        _id(),
        _fk("inspection_id", "inspections.id"),
        sa.Column("item_no", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        _fk("created_by", "people.id"),
        _at("created_at"),
    )
    op.create_index("ix_notes_inspection_id_item_no", "notes", ["inspection_id", "item_no"])
    op.create_table(
        "evidence",
        _id(),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mime", sa.String(100), nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("role", ENUM, nullable=False),
        sa.Column("channel", ENUM),
        sa.Column("channel_file_ref", sa.String(512)),
        sa.Column("caption", sa.Text),
        _fk("inspection_id", "inspections.id"),
        sa.Column("item_no", sa.Integer, nullable=False),
        _fk("created_by", "people.id"),
        _at("created_at"),
    )
    op.create_index("ix_evidence_inspection_id_item_no", "evidence", ["inspection_id", "item_no"])
    op.create_index("ix_evidence_sha256", "evidence", ["sha256"])
    op.create_table(
        "conversations",
        _id(),
        _fk("person_id", "people.id"),
        sa.Column("channel", ENUM, nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("state", JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        _at("updated_at"),
        sa.UniqueConstraint("person_id", "channel", "chat_id"),
    )
    op.create_table(
        "outbox",
        _id(),
        sa.Column("channel", ENUM, nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        _fk("person_id", "people.id", nullable=True),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("ref", sa.String(128)),
        sa.Column("edit_of_ref", sa.String(128)),
        _at("not_before"),
        _at("created_at"),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("claimed_by", sa.String(128)),
        _at("claim_expires_at", nullable=True),
        _at("sent_at", nullable=True),
        sa.Column("channel_message_id", sa.String(128)),
        sa.Column("status", ENUM, nullable=False),
    )
    op.create_index("ix_outbox_channel_status_id", "outbox", ["channel", "status", "id"])
    op.create_index(
        "ix_outbox_channel_chat_id_status_id", "outbox", ["channel", "chat_id", "status", "id"]
    )
    op.create_index("ix_outbox_channel_chat_id_ref", "outbox", ["channel", "chat_id", "ref"])
    op.create_table(
        "processed_events",
        sa.Column("key", sa.String(200), primary_key=True),
        _at("at"),
    )


def downgrade() -> None:
    for name in (
        "processed_events",
        "outbox",
        "conversations",
        "evidence",
        "notes",
        "answer_revisions",
        "answers",
        "inspections",
        "standards",
        "invites",
        "identities",
        "roles",
        "people",
        "sites",
    ):
        op.drop_table(name)
