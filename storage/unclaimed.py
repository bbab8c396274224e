"""Unclaimed files. The channels put what people send into the evidence store before any flow
has decided to keep it (a flow gets the stored file with the event), so a photo a flow refused
("照片未保存"), or one sent by someone with nothing open, would stay for good. A file is
claimed when an evidence row names it (a flow attached it) or when the bot itself sent it as a
file (a rendered report, a watermarked photo: the only files the bot sends that are not
evidence); a file nothing
claims is removed once it has gone unclaimed for the grace period, whichever channel brought
it. Only files go: no database row is ever deleted (a person's own message showing the photo
stays; the page shows it as not loaded).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial

import sqlalchemy as sa

from storage.db import Database, Tx
from storage.evidence import EvidenceStore
from storage.records import OutboxKind
from storage.tables import evidence, outbox

BATCH = 500
REPORT_KEY = "report"
"""The payload key of an outbox row that sends a rendered report (bot.core.report_request)."""
STAMPED_KEY = "stamped"
"""The payload key of an outbox row that sent watermarked photos (bot.core.report_request)."""


class UnclaimedSweeper:
    """Removes unclaimed files; each sweep looks only at files stored since the last one's
    cut-off (a file found claimed stays claimed: no row that names a file is ever deleted)."""

    def __init__(
        self,
        db: Database,
        files: EvidenceStore,
        *,
        grace_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.files = files
        self.grace_seconds = grace_seconds
        self.clock = clock
        self._checked_until: float | None = None

    async def sweep(self) -> int:
        """Remove the unclaimed files stored before now − grace; returns how many went."""
        cutoff = self.clock() - self.grace_seconds
        found = [sha async for sha in self.files.stored_between(self._checked_until, cutoff)]
        unattached: list[str] = []
        for start in range(0, len(found), BATCH):
            batch = found[start : start + BATCH]
            async with self.db.read() as tx:
                attached = await _attached(tx, batch)
            unattached += [sha for sha in batch if sha not in attached]
        removed = 0
        if unattached:
            async with self.db.read() as tx:
                sent = await _sent_as_files(tx)
            for sha256 in unattached:
                if sha256 in sent:
                    continue
                check = partial(self._attached_now, sha256)
                if await self.files.discard(sha256, stored_before=cutoff, claimed=check):
                    removed += 1
        self._checked_until = cutoff
        return removed

    async def _attached_now(self, sha256: str) -> bool:
        """Asked again just before a file goes: a flow may have attached it meanwhile (a new
        report with the very bytes of an unclaimed upload is not worth a second look)."""
        async with self.db.read() as tx:
            return bool(await _attached(tx, [sha256]))


async def _attached(tx: Tx, hashes: Sequence[str]) -> set[str]:
    stmt = sa.select(evidence.c.sha256).where(evidence.c.sha256.in_(hashes)).distinct()
    return set(await tx.connection.scalars(stmt))


async def _sent_as_files(tx: Tx) -> set[str]:
    """Every file a document row, a report row or a watermarked photo row of the outbox names
    (a handful of rows per finished inspection or fix)."""
    payload = outbox.c.payload
    stmt = sa.select(payload).where(
        sa.or_(
            outbox.c.kind == OutboxKind.SEND_DOCUMENT,
            sa.and_(
                outbox.c.kind == OutboxKind.SEND_PHOTO,
                sa.or_(
                    payload[REPORT_KEY].as_string().is_not(None),
                    payload[STAMPED_KEY].as_string().is_not(None),
                ),
            ),
        )
    )
    sent: set[str] = set()
    for row in await tx.connection.scalars(stmt):
        sent.update(sha for sha in (row.get("document"), *(row.get("photos") or ())) if sha)
    return sent
