"""Section summaries sent, per inspection: noted in the conversation's state before, so a
section completed again from another chat (the web chat after Telegram) was summarised, to
the managers too, a second time.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "section_summaries",
        sa.Column("inspection_id", sa.Integer, sa.ForeignKey("inspections.id"), nullable=False),
        sa.Column("section_code", sa.String(200), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("inspection_id", "section_code"),
    )
    _carry_over_from_conversations()


def _carry_over_from_conversations() -> None:
    """The summaries already sent, as the conversations noted them ("inspection:section")."""
    bind = op.get_bind()
    sent: set[tuple[int, str]] = set()
    for (raw,) in bind.execute(sa.text("SELECT state FROM conversations")):
        state = json.loads(raw) if isinstance(raw, str) else raw
        noted = state.get("summaries") if isinstance(state, dict) else None
        for key, done in noted.items() if isinstance(noted, dict) else ():
            inspection, _, section = str(key).partition(":")
            if done and inspection.isdigit() and section:
                sent.add((int(inspection), section))
    existing = {row[0] for row in bind.execute(sa.text("SELECT id FROM inspections"))}
    now = datetime.now(UTC)
    rows = [
        {"inspection_id": i, "section_code": s, "sent_at": now}
        for i, s in sorted(sent)
        if i in existing
    ]
    summaries = sa.table(
        "section_summaries",
        sa.column("inspection_id", sa.Integer),
        sa.column("section_code", sa.String),
        sa.column("sent_at", sa.DateTime(timezone=True)),
    )
    if rows:
        op.bulk_insert(summaries, rows)


def downgrade() -> None:
    op.drop_table("section_summaries")
