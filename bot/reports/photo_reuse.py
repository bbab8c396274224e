"""Whether a fix photo is nearly the same picture as an earlier one (the 整改 "after" photo reused
from the finding or from last month): perceptual hashes within a set number of bits. A re-sent,
resized or recompressed copy stays within 2 bits, a re-shot of the same scene differs by 4 or
more (docs/EVIDENCE.md), so the flag means "the same photo", not "the same place"."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.core.pixels import hash_distance
from storage.db import Tx
from storage.records import Evidence, EvidenceRole, Task


def earlier_match(
    photo: Evidence, earlier: Sequence[Evidence], max_distance: int
) -> Evidence | None:
    """The closest earlier photo (received before it) within `max_distance` bits."""
    if photo.phash is None:
        return None
    found: list[tuple[int, int, Evidence]] = []
    for other in earlier:
        if other.id >= photo.id or other.phash is None:
            continue
        distance = hash_distance(photo.phash, other.phash)
        if distance <= max_distance:
            found.append((distance, other.id, other))
    return min(found)[2] if found else None


async def reused(
    tx: Tx, task: Task, *, max_distance: int, days: int, now: datetime
) -> list[tuple[Evidence, Evidence]]:
    """Each fix photo of the task nearly the same as an earlier photo (the task's finding, or
    any photo of the site received within `days`), with that photo."""
    fixes = await tx.evidence.for_task(task.id, role=EvidenceRole.FIX)
    before = []
    if task.inspection_id is not None and task.item_no is not None:
        before = await tx.evidence.for_item(task.inspection_id, task.item_no)
    at_site = await tx.evidence.hashed_at_site(task.site_id, now - timedelta(days=days))
    earlier = [
        e
        for e in {e.id: e for e in [*before, *at_site]}.values()
        if not (e.task_id == task.id and e.role is EvidenceRole.FIX)
    ]
    pairs = []
    for photo in fixes:
        match = earlier_match(photo, earlier, max_distance)
        if match is not None:
            pairs.append((photo, match))
    return pairs
