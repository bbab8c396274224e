"""The escalation ladder: a rung is a reminder without a person (its managers are looked up
when it is due), at most one pending per (task, kind, time). The `reminders.escalate_after_days`
and `escalate_every_days` settings become `reminders.ladder`; earlier escalations (to every
manager covering the site) count as reached up to the company; tasks that had an old-style
escalation planned lose their pending reminders, so that the daily check plans them anew.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

RUNG_WHERE = "person_id IS NULL"
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
# The default ladder's distance between the rungs, kept when the first rung moves.
REGION_AFTER, COMPANY_AFTER = 2, 6


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _ladder(reminders: dict[str, Any]) -> dict[str, Any]:
    """escalate_after_days N (first told on day N + 1 overdue) → the ladder from that day."""
    after = reminders.pop("escalate_after_days", None)
    reminders.pop("escalate_every_days", None)
    if isinstance(after, int) and not isinstance(after, bool) and 0 <= after <= 30:
        first = after + 1
        reminders["ladder"] = [
            [first, "site"],
            [first + REGION_AFTER, "region"],
            [first + COMPANY_AFTER, "company"],
        ]
    return reminders


def _settings_up(conn: sa.Connection) -> None:
    settings = sa.table("settings", sa.column("key"), sa.column("value", JSON))
    sites = sa.table("sites", sa.column("id"), sa.column("settings", JSON))
    stored = conn.execute(sa.select(settings.c.value).where(settings.c.key == "reminders"))
    value = _loaded(stored.scalar())
    if isinstance(value, dict):
        conn.execute(
            sa.update(settings)
            .where(settings.c.key == "reminders")
            .values(value=_ladder(dict(value)))
        )
    for site_id, own in conn.execute(sa.select(sites.c.id, sites.c.settings)).all():
        own = _loaded(own)
        if isinstance(own, dict) and isinstance(own.get("reminders"), dict):
            changed = {**own, "reminders": _ladder(dict(own["reminders"]))}
            conn.execute(sa.update(sites).where(sites.c.id == site_id).values(settings=changed))


def _history_up(conn: sa.Connection) -> None:
    events = sa.table("task_events", sa.column("id"), sa.column("kind"), sa.column("data", JSON))
    rows = conn.execute(sa.select(events.c.id, events.c.data).where(events.c.kind == "escalated"))
    for event_id, data in rows.all():
        data = _loaded(data) or {}
        if "level" not in data:
            changed = {**data, "level": "company"}
            conn.execute(sa.update(events).where(events.c.id == event_id).values(data=changed))


def _reminders_up(conn: sa.Connection) -> None:
    reminders = sa.table(
        "reminders",
        sa.column("task_id"),
        sa.column("kind"),
        sa.column("sent_at"),
        sa.column("cancelled_at"),
    )
    pending = sa.and_(reminders.c.sent_at.is_(None), reminders.c.cancelled_at.is_(None))
    old = sa.select(reminders.c.task_id).where(reminders.c.kind == "escalate", pending)
    conn.execute(
        sa.update(reminders)
        .where(pending, reminders.c.task_id.in_(old.scalar_subquery()))
        .values(cancelled_at=datetime.now(UTC))
    )


def upgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.alter_column("person_id", existing_type=sa.Integer, nullable=True)
    op.create_index(
        "uq_reminders_rung",
        "reminders",
        ["task_id", "kind", "due_at"],
        unique=True,
        sqlite_where=sa.text(RUNG_WHERE),
        postgresql_where=sa.text(RUNG_WHERE),
    )
    conn = op.get_bind()
    _settings_up(conn)
    _history_up(conn)
    _reminders_up(conn)


def _escalate_after(reminders: dict[str, Any]) -> dict[str, Any]:
    ladder = reminders.pop("ladder", None)
    if isinstance(ladder, list) and ladder and isinstance(ladder[0], list):
        reminders["escalate_after_days"] = max(0, min(30, int(ladder[0][0]) - 1))
    return reminders


def downgrade() -> None:
    """Rungs are dropped; the first rung's day becomes escalate_after_days."""
    conn = op.get_bind()
    conn.execute(sa.text(f"DELETE FROM reminders WHERE {RUNG_WHERE}"))
    settings = sa.table("settings", sa.column("key"), sa.column("value", JSON))
    value = _loaded(
        conn.execute(sa.select(settings.c.value).where(settings.c.key == "reminders")).scalar()
    )
    if isinstance(value, dict):
        conn.execute(
            sa.update(settings)
            .where(settings.c.key == "reminders")
            .values(value=_escalate_after(dict(value)))
        )
    sites = sa.table("sites", sa.column("id"), sa.column("settings", JSON))
    for site_id, own in conn.execute(sa.select(sites.c.id, sites.c.settings)).all():
        own = _loaded(own)
        if isinstance(own, dict) and isinstance(own.get("reminders"), dict):
            changed = {**own, "reminders": _escalate_after(dict(own["reminders"]))}
            conn.execute(sa.update(sites).where(sites.c.id == site_id).values(settings=changed))
    op.drop_index("uq_reminders_rung", table_name="reminders")
    with op.batch_alter_table("reminders") as batch:
        batch.alter_column("person_id", existing_type=sa.Integer, nullable=False)
