"""Unclaimed files. The channels put what people send into the evidence store before any flow
has decided to keep it (a flow gets the stored file with the event), so a photo a flow refused
("照片未保存"), or one sent by someone with nothing open, would stay for good. A file is
claimed when an evidence row names it (a flow attached it) or when the bot itself sent it (a
rendered report, in an outbox row); a file nothing claims is removed once it has gone
unclaimed for the grace period, whichever channel brought it. Only files go: no database row is
ever deleted (a person's own message showing the photo stays; the page shows it as not
loaded).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import partial

import sqlalchemy as sa

from storage.db import Database, Tx
from storage.evidence import EvidenceStore
from storage.records import OutboxKind
from storage.tables import evidence, outbox

BATCH = 200


class UnclaimedSweeper:
    """Removes unclaimed files; each sweep looks only at files stored since the last one's
    cut-off (a file found claimed stays claimed: no row that names a file is ever deleted).

    `own_message` is the key in an outbox payload's `extra` that marks a person's own message
    (the web chat's echo of an upload): such a row claims nothing."""

    def __init__(
        self,
        db: Database,
        files: EvidenceStore,
        *,
        grace_seconds: float,
        own_message: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.files = files
        self.grace_seconds = grace_seconds
        self.own_message = own_message
        self.clock = clock
        self._checked_until: float | None = None

    async def sweep(self) -> int:
        """Remove the unclaimed files stored before now − grace; returns how many went."""
        cutoff = self.clock() - self.grace_seconds
        found = [sha async for sha in self.files.stored_between(self._checked_until, cutoff)]
        removed = 0
        for start in range(0, len(found), BATCH):
            batch = found[start : start + BATCH]
            async with self.db.read() as tx:
                wanted = await self._claimed(tx, batch)
            for sha256 in batch:
                if sha256 in wanted:
                    continue
                check = partial(self._claimed_now, sha256)
                if await self.files.discard(sha256, stored_before=cutoff, claimed=check):
                    removed += 1
        self._checked_until = cutoff
        return removed

    async def _claimed_now(self, sha256: str) -> bool:
        async with self.db.read() as tx:
            return bool(await self._claimed(tx, [sha256]))

    async def _claimed(self, tx: Tx, hashes: Iterable[str]) -> set[str]:
        """Of the hashes, those an evidence row or a message the bot sent names."""
        wanted = list(hashes)
        stmt = sa.select(evidence.c.sha256).where(evidence.c.sha256.in_(wanted)).distinct()
        claimed = set(await tx.connection.scalars(stmt))
        rest = [sha for sha in wanted if sha not in claimed]
        if not rest:
            return claimed
        text = sa.cast(outbox.c.payload, sa.Text)
        stmt = sa.select(outbox.c.payload).where(
            outbox.c.kind.in_((OutboxKind.SEND_PHOTO, OutboxKind.SEND_DOCUMENT)),
            sa.or_(*(text.contains(sha, autoescape=True) for sha in rest)),
        )
        for payload in await tx.connection.scalars(stmt):
            if (payload.get("extra") or {}).get(self.own_message):
                continue
            named = {*(payload.get("photos") or ()), payload.get("document")}
            claimed.update(sha for sha in rest if sha in named)
        return claimed
