"""Unclaimed files: what no evidence row and no message the bot sent names is removed after
the grace period; files something names stay, and no row is ever deleted (both databases)."""

from __future__ import annotations

import time

import sqlalchemy as sa

from storage.db import Database
from storage.evidence import FileEvidenceStore
from storage.records import Channel, EvidenceKind, OutboxKind
from storage.tables import evidence, outbox
from storage.unclaimed import UnclaimedSweeper
from tests.storage.helpers import World

GRACE = 1800


async def counts(db: Database) -> tuple[int, int]:
    async with db.read() as tx:
        return (
            int(await tx.connection.scalar(sa.select(sa.func.count()).select_from(evidence))),
            int(await tx.connection.scalar(sa.select(sa.func.count()).select_from(outbox))),
        )


async def test_only_what_nothing_names_is_removed_after_the_grace_period(
    db: Database, files: FileEvidenceStore, world: World
) -> None:
    attached, report, chart, echoed, refused = [
        (await files.put(data)).sha256
        for data in (b"attached photo", b"a report", b"a chart", b"echo", b"refused")
    ]
    async with db.transaction() as tx:
        inspection = await tx.inspections.start(world.site_a, world.standard, world.inspector)
        await tx.evidence.add(
            attached,
            14,
            mime="image/jpeg",
            kind=EvidenceKind.PHOTO,
            created_by=world.inspector,
            inspection_id=inspection.id,
            item_no=1,
        )
        asked = {"report": inspection.id, "format": "png"}
        for kind, payload in (
            (OutboxKind.SEND_DOCUMENT, {"text": "", "document": report, "document_name": "a.pdf"}),
            (OutboxKind.SEND_PHOTO, {"text": "", **asked, "photos": [chart]}),
            (OutboxKind.SEND_PHOTO, {"text": "", **asked}),  # not rendered yet
            (OutboxKind.SEND_PHOTO, {"text": "", "photos": [attached]}),
            (OutboxKind.SEND_PHOTO, {"text": "", "photos": [echoed], "extra": {"mine": True}}),
            (OutboxKind.SEND, {"text": f"mentions {refused}"}),
        ):
            await tx.outbox.enqueue(Channel.WEB, "1", kind, payload, person_id=world.inspector)
    before = await counts(db)
    now = time.time()
    sweeper = UnclaimedSweeper(db, files, grace_seconds=GRACE, clock=lambda: now)
    assert await sweeper.sweep() == 0, "all within the grace period"
    sweeper.clock = lambda: now + GRACE + 1
    assert await sweeper.sweep() == 2
    assert sorted([sha async for sha in files.hashes()]) == sorted([attached, report, chart])
    assert await counts(db) == before
    assert await sweeper.sweep() == 0
