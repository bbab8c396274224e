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
        sa.Column("section_code", sa.String(32), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("inspection_id", "section_code"),
    )
    _carry_over_from_conversations()


def _carry_over_from_conversations() -> None:
    """The summaries already sent, as the conversations noted them ("inspection:section")."""
    bind = op.get_bind()
    sent: set[tuple[int, str]] = set()
    for (state,) in bind.execute(sa.text("SELECT state FROM conversations")):
        noted = (json.loads(state) if isinstance(state, str) else state or {}).get("summaries")
        for key, done in noted.items() if isinstance(noted, dict) else ():
            inspection, _, section = str(key).partition(":")
            if done and inspection.isdigit() and section:
                sent.add((int(inspection), section))
    existing = {row[0] for row in bind.execute(sa.text("SELECT id FROM inspections"))}
    rows = [
        {"inspection_id": i, "section_code": s, "sent_at": datetime.now(UTC).replace(tzinfo=None)}
        for i, s in sorted(sent)
        if i in existing
    ]
    if rows:
        bind.execute(
            sa.text(
                "INSERT INTO section_summaries (inspection_id, section_code, sent_at)"
                " VALUES (:inspection_id, :section_code, :sent_at)"
            ),
            rows,
        )


def downgrade() -> None:
    op.drop_table("section_summaries")
