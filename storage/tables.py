"""The schema at head, as SQLAlchemy Core tables. Migrations must build exactly this."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

from storage.records import (
    AppealDecision,
    Channel,
    ConfirmHow,
    EvidenceKind,
    EvidenceRole,
    ExtensionStatus,
    GroupKind,
    InspectionStatus,
    OutboxKind,
    OutboxStatus,
    PlanEvery,
    PlanKind,
    ResultStatus,
    Role,
    Severity,
    TaskEventKind,
    TaskStatus,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on every dialect; naive values are refused, not guessed.

    SQLite keeps them as naive UTC text in a fixed format, so text order is time order.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to storage; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


Json = sa.JSON().with_variant(JSONB(), "postgresql")


def enum(cls: type[StrEnum]) -> sa.Enum:
    """A string enum stored as its value in a VARCHAR(32), returned as the enum member."""
    return sa.Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def _id() -> sa.Column[Any]:
    return sa.Column("id", sa.Integer, primary_key=True)


def _fk(name: str, target: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.Integer, sa.ForeignKey(target), nullable=nullable)


def _at(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, UtcDateTime(), nullable=nullable)


regions = sa.Table(
    "regions",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("active", sa.Boolean, nullable=False),
    _at("created_at"),
)

sites = sa.Table(
    "sites",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("address", sa.String(500), nullable=False, server_default=""),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("quiet_start", sa.String(5), nullable=False),
    sa.Column("quiet_end", sa.String(5), nullable=False),
    sa.Column("settings", Json, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    _at("created_at"),
    _fk("region_id", "regions.id", nullable=True),
    sa.Column("latitude", sa.Float),
    sa.Column("longitude", sa.Float),
    sa.Index(None, "region_id"),
)

people = sa.Table(
    "people",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("phone", sa.String(64)),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False),
    _at("created_at"),
    sa.Index(None, "name"),
)

roles = sa.Table(
    "roles",
    metadata,
    _id(),
    _fk("person_id", "people.id"),
    _fk("site_id", "sites.id", nullable=True),
    sa.Column("role", enum(Role), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    _at("created_at"),
    _fk("region_id", "regions.id", nullable=True),
    sa.UniqueConstraint("person_id", "role", "site_id"),
    sa.Index(None, "site_id", "role"),
    sa.Index(None, "region_id", "role"),
    sa.Index(
        "uq_roles_region",
        "person_id",
        "role",
        "region_id",
        unique=True,
        sqlite_where=sa.text("region_id IS NOT NULL"),
        postgresql_where=sa.text("region_id IS NOT NULL"),
    ),
    sa.Index(
        "uq_roles_company",
        "person_id",
        "role",
        unique=True,
        sqlite_where=sa.text("site_id IS NULL AND region_id IS NULL"),
        postgresql_where=sa.text("site_id IS NULL AND region_id IS NULL"),
    ),
    sa.CheckConstraint("site_id IS NULL OR region_id IS NULL", name="one_scope"),
)
"""A role held at a site (site_id), a region (region_id) or company-wide (neither)."""

identities = sa.Table(
    "identities",
    metadata,
    _id(),
    _fk("person_id", "people.id"),
    sa.Column("channel", enum(Channel), nullable=False),
    sa.Column("external_id", sa.String(128), nullable=False),
    sa.Column("chat_id", sa.String(128)),
    sa.Column("display_name", sa.String(200)),
    _at("bound_at"),
    _at("revoked_at", nullable=True),
    sa.Index(
        "uq_identities_active",
        "channel",
        "external_id",
        unique=True,
        sqlite_where=sa.text("revoked_at IS NULL"),
        postgresql_where=sa.text("revoked_at IS NULL"),
    ),
    sa.Index(None, "person_id"),
)

invites = sa.Table(
    "invites",
    metadata,
    _id(),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    _fk("person_id", "people.id"),
    sa.Column("channel", enum(Channel)),
    sa.Column("role", enum(Role)),
    _fk("site_id", "sites.id", nullable=True),
    _at("created_at"),
    _at("expires_at"),
    _at("used_at", nullable=True),
    _at("revoked_at", nullable=True),
    sa.Index(None, "person_id"),
)

standards = sa.Table(
    "standards",
    metadata,
    _id(),
    sa.Column("std_id", sa.String(48), nullable=False),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("snapshot", Json, nullable=False),
    _at("created_at"),
    sa.UniqueConstraint("std_id", "content_hash"),
)

inspections = sa.Table(
    "inspections",
    metadata,
    _id(),
    _fk("site_id", "sites.id"),
    _fk("standard_id", "standards.id"),
    sa.Column("std_id", sa.String(48), nullable=False),
    _fk("inspector_id", "people.id"),
    sa.Column("status", enum(InspectionStatus), nullable=False),
    sa.Column("channel", enum(Channel)),
    sa.Column("cursor_item_no", sa.Integer),
    _at("started_at"),
    _at("paused_at", nullable=True),
    _at("completed_at", nullable=True),
    _at("cancelled_at", nullable=True),
    sa.Column("score", sa.Float),
    sa.Column("max_score", sa.Float),
    _at("updated_at"),
    sa.Index(None, "inspector_id", "status"),
    sa.Index(None, "site_id", "status", "completed_at"),
    sa.Index(None, "site_id", "std_id", "status", "completed_at"),
    sa.Index(None, "status", "completed_at"),
)

answers = sa.Table(
    "answers",
    metadata,
    _id(),
    _fk("inspection_id", "inspections.id"),
    sa.Column("item_no", sa.Integer, nullable=False),
    sa.Column("score", sa.Float),
    sa.Column("max_score", sa.Float),
    sa.Column("not_applicable", sa.Boolean, nullable=False),
    sa.Column("level_label", sa.String(64)),
    sa.Column("details", Json, nullable=False),
    _fk("answered_by", "people.id"),
    _at("answered_at"),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.UniqueConstraint("inspection_id", "item_no"),
)

section_summaries = sa.Table(
    "section_summaries",
    metadata,
    _fk("inspection_id", "inspections.id"),
    sa.Column("section_code", sa.String(200), nullable=False),
    _at("sent_at"),
    sa.PrimaryKeyConstraint("inspection_id", "section_code"),
)
"""The sections of an inspection whose summary went out: once per inspection, whichever
chat or device completed the section."""

answer_revisions = sa.Table(
    "answer_revisions",
    metadata,
    _id(),
    _fk("inspection_id", "inspections.id"),
    sa.Column("item_no", sa.Integer, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("score", sa.Float),
    sa.Column("max_score", sa.Float),
    sa.Column("not_applicable", sa.Boolean, nullable=False),
    sa.Column("level_label", sa.String(64)),
    sa.Column("details", Json, nullable=False),
    _fk("answered_by", "people.id"),
    _at("answered_at"),
    sa.UniqueConstraint("inspection_id", "item_no", "revision"),
)

notes = sa.Table(
    "notes",
    metadata,
    _id(),
    _fk("inspection_id", "inspections.id", nullable=True),
    sa.Column("item_no", sa.Integer),
    _fk("task_id", "tasks.id", nullable=True),
    sa.Column("text", sa.Text, nullable=False),
    _fk("created_by", "people.id"),
    _at("created_at"),
    sa.Index(None, "inspection_id", "item_no"),
    sa.Index(None, "task_id"),
)

evidence = sa.Table(
    "evidence",
    metadata,
    _id(),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mime", sa.String(100), nullable=False),
    sa.Column("kind", enum(EvidenceKind), nullable=False),
    sa.Column("role", enum(EvidenceRole), nullable=False),
    sa.Column("channel", enum(Channel)),
    sa.Column("channel_file_ref", sa.String(512)),
    sa.Column("caption", sa.Text),
    _fk("inspection_id", "inspections.id", nullable=True),
    sa.Column("item_no", sa.Integer),
    _fk("task_id", "tasks.id", nullable=True),
    _fk("created_by", "people.id"),
    _at("created_at"),
    sa.Column("taken_at", sa.DateTime(timezone=False)),
    sa.Column("phash", sa.String(16)),
    sa.Column("latitude", sa.Float),
    sa.Column("longitude", sa.Float),
    sa.Index(None, "inspection_id", "item_no"),
    sa.Index(None, "task_id"),
    sa.Index(None, "sha256"),
)

conversations = sa.Table(
    "conversations",
    metadata,
    _id(),
    _fk("person_id", "people.id"),
    sa.Column("channel", enum(Channel), nullable=False),
    sa.Column("chat_id", sa.String(128), nullable=False),
    sa.Column("state", Json, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    _at("updated_at"),
    sa.UniqueConstraint("person_id", "channel", "chat_id"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    _id(),
    sa.Column("channel", enum(Channel), nullable=False),
    sa.Column("chat_id", sa.String(128), nullable=False),
    _fk("person_id", "people.id", nullable=True),
    sa.Column("kind", enum(OutboxKind), nullable=False),
    sa.Column("payload", Json, nullable=False),
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
    sa.Column("status", enum(OutboxStatus), nullable=False),
    sa.Index(None, "channel", "status", "id"),
    sa.Index(None, "channel", "chat_id", "status", "id"),
    sa.Index(None, "channel", "chat_id", "ref"),
    sa.Index(None, "channel", "kind", "created_at"),
)

inbox = sa.Table(
    "inbox",
    metadata,
    _id(),
    sa.Column("channel", enum(Channel), nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("payload", Json, nullable=False),
    _at("received_at"),
    sa.UniqueConstraint("channel", "key"),
)

processed_events = sa.Table(
    "processed_events",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    _at("at"),
    sa.Index(None, "at"),
)

tasks = sa.Table(
    "tasks",
    metadata,
    _id(),
    _fk("site_id", "sites.id"),
    _fk("inspection_id", "inspections.id", nullable=True),
    sa.Column("item_no", sa.Integer),
    sa.Column("finding", sa.Text, nullable=False),
    sa.Column("score", sa.Float),
    sa.Column("severity", enum(Severity), nullable=False),
    _fk("responsible_person_id", "people.id", nullable=True),
    sa.Column("status", enum(TaskStatus), nullable=False),
    sa.Column("due_date", sa.Date),
    sa.Column("remark", sa.Text),
    _fk("created_by", "people.id", nullable=True),
    _at("created_at"),
    _at("closed_at", nullable=True),
    _at("updated_at"),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index(None, "responsible_person_id", "status", "due_date"),
    sa.Index(None, "site_id", "status", "due_date"),
    sa.Index(None, "inspection_id", "item_no"),
)

task_events = sa.Table(
    "task_events",
    metadata,
    _id(),
    _fk("task_id", "tasks.id"),
    _at("at"),
    _fk("actor_id", "people.id", nullable=True),
    sa.Column("kind", enum(TaskEventKind), nullable=False),
    sa.Column("from_status", enum(TaskStatus)),
    sa.Column("to_status", enum(TaskStatus)),
    sa.Column("reason", sa.Text),
    sa.Column("data", Json, nullable=False),
    sa.Index(None, "task_id", "id"),
)

extension_requests = sa.Table(
    "extension_requests",
    metadata,
    _id(),
    _fk("task_id", "tasks.id"),
    _fk("requested_by", "people.id"),
    sa.Column("requested_due_date", sa.Date, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("status", enum(ExtensionStatus), nullable=False),
    _fk("decided_by", "people.id", nullable=True),
    _at("decided_at", nullable=True),
    _at("created_at"),
    sa.Index(None, "task_id"),
    sa.Index(None, "status", "task_id"),
)

reminders = sa.Table(
    "reminders",
    metadata,
    _id(),
    _fk("task_id", "tasks.id"),
    # NULL for a rung of the escalation ladder: its managers are looked up when it is due.
    _fk("person_id", "people.id", nullable=True),
    sa.Column("kind", sa.String(32), nullable=False),
    _at("due_at"),
    _at("sent_at", nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("claimed_by", sa.String(128)),
    _at("claim_expires_at", nullable=True),
    _at("cancelled_at", nullable=True),
    _at("created_at"),
    sa.UniqueConstraint("task_id", "person_id", "kind", "due_at"),
    sa.Index(
        "uq_reminders_rung",
        "task_id",
        "kind",
        "due_at",
        unique=True,
        sqlite_where=sa.text("person_id IS NULL"),
        postgresql_where=sa.text("person_id IS NULL"),
    ),
    sa.Index(
        "ix_reminders_due",
        "due_at",
        sqlite_where=sa.text("sent_at IS NULL AND cancelled_at IS NULL"),
        postgresql_where=sa.text("sent_at IS NULL AND cancelled_at IS NULL"),
    ),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    _id(),
    _at("at"),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(200)),
    sa.Column("details", Json, nullable=False),
    sa.Index(None, "at"),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", Json, nullable=False),
    _at("updated_at"),
)

plans = sa.Table(
    "plans",
    metadata,
    _id(),
    _fk("site_id", "sites.id", nullable=True),
    _fk("region_id", "regions.id", nullable=True),
    sa.Column("std_id", sa.String(48), nullable=False),
    sa.Column("every", enum(PlanEvery), nullable=False),
    sa.Column("window_from", sa.Integer, nullable=False),
    sa.Column("window_to", sa.Integer, nullable=False),
    sa.Column("kind", enum(PlanKind), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    _at("created_at"),
    _at("removed_at", nullable=True),
    sa.CheckConstraint("site_id IS NULL OR region_id IS NULL", name="one_scope"),
)

plan_inspectors = sa.Table(
    "plan_inspectors",
    metadata,
    _id(),
    _fk("plan_id", "plans.id"),
    _fk("person_id", "people.id"),
    sa.UniqueConstraint("plan_id", "person_id"),
)

plan_occurrences = sa.Table(
    "plan_occurrences",
    metadata,
    _id(),
    _fk("plan_id", "plans.id"),
    _fk("site_id", "sites.id"),
    sa.Column("period_start", sa.Date, nullable=False),
    _at("window_start"),
    _at("window_end"),
    _fk("inspection_id", "inspections.id", nullable=True),
    _at("ended_at", nullable=True),
    _at("opened_at", nullable=True),
    _at("reminded_at", nullable=True),
    _at("closed_at", nullable=True),
    _at("created_at"),
    sa.UniqueConstraint("plan_id", "site_id", "period_start"),
    sa.Index(None, "site_id", "window_start"),
    sa.Index(None, "window_end"),
    sa.Index(None, "inspection_id"),
)

chat_groups = sa.Table(
    "chat_groups",
    metadata,
    _id(),
    _fk("site_id", "sites.id", nullable=True),
    _fk("region_id", "regions.id", nullable=True),
    sa.Column("kind", enum(GroupKind), nullable=False),
    sa.Column("chat_id", sa.String(128)),
    sa.Column("webhook_key", sa.String(200)),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    _at("created_at"),
    _at("inactive_at", nullable=True),
    _at("removed_at", nullable=True),
    _at("fixes_posted_until", nullable=True),
    sa.CheckConstraint("site_id IS NULL OR region_id IS NULL", name="one_scope"),
    sa.Index(
        "uq_chat_groups_site_kind",
        "site_id",
        "kind",
        unique=True,
        sqlite_where=sa.text("removed_at IS NULL AND site_id IS NOT NULL"),
        postgresql_where=sa.text("removed_at IS NULL AND site_id IS NOT NULL"),
    ),
    sa.Index(
        "uq_chat_groups_region_kind",
        "region_id",
        "kind",
        unique=True,
        sqlite_where=sa.text("removed_at IS NULL AND region_id IS NOT NULL"),
        postgresql_where=sa.text("removed_at IS NULL AND region_id IS NOT NULL"),
    ),
    sa.Index(None, "kind", "chat_id"),
)
"""A project group chat the bot posts into; at most one of each kind per site or region."""

group_codes = sa.Table(
    "group_codes",
    metadata,
    _id(),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    _fk("site_id", "sites.id", nullable=True),
    _fk("region_id", "regions.id", nullable=True),
    _at("created_at"),
    _at("expires_at"),
    _at("used_at", nullable=True),
    sa.CheckConstraint("site_id IS NULL OR region_id IS NULL", name="one_scope"),
)
confirmations = sa.Table(
    "confirmations",
    metadata,
    sa.Column("inspection_id", sa.Integer, sa.ForeignKey("inspections.id"), primary_key=True),
    _fk("site_id", "sites.id"),
    sa.Column("status", enum(ResultStatus), nullable=False),
    _at("deadline"),
    _at("remind_at"),
    _at("reminded_at", nullable=True),
    sa.Column("how", enum(ConfirmHow)),
    _fk("confirmed_by", "people.id", nullable=True),
    _at("confirmed_at", nullable=True),
    _at("created_at"),
    sa.Index(None, "status", "deadline"),
    sa.Index(None, "site_id", "status"),
)
"""A submitted inspection's sign-off by its site (项目确认), one row per inspection."""

appeals = sa.Table(
    "appeals",
    metadata,
    _id(),
    _fk("inspection_id", "inspections.id"),
    sa.Column("item_no", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    _fk("filed_by", "people.id"),
    _at("filed_at"),
    sa.Column("decision", enum(AppealDecision)),
    _fk("decided_by", "people.id", nullable=True),
    _at("decided_at", nullable=True),
    sa.Column("decision_reason", sa.Text),
    sa.Column("score_before", sa.Float),
    sa.Column("score_after", sa.Float),
    sa.Column("label_after", sa.String(64)),
    sa.UniqueConstraint("inspection_id", "item_no"),
)
"""Appeals against findings (申诉) and their decisions; one per item of an inspection."""

# Parents before children: the order backups are written and restored in.
job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("job", sa.String(64), nullable=False),
    sa.Column("period", sa.String(32), nullable=False),
    _at("claimed_at"),
    sa.PrimaryKeyConstraint("job", "period"),
)
"""Scheduled jobs that ran, one row per job and period (the weekly digest of a week, the
monthly 通报 of a month): whichever process inserts the row first does the job, once."""

TABLES_IN_ORDER: tuple[sa.Table, ...] = tuple(metadata.sorted_tables)
