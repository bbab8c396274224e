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
    at_site = await site_photos(tx, task.site_id, days=days, now=now)
    return matches(task, fixes, [*before, *at_site], max_distance)


async def site_photos(tx: Tx, site_id: int, *, days: int, now: datetime) -> list[Evidence]:
    """The site's photos received within `days` that a fix photo is compared with."""
    return await tx.evidence.hashed_at_site(site_id, now - timedelta(days=days))


def matches(
    task: Task, fixes: Sequence[Evidence], earlier: Sequence[Evidence], max_distance: int
) -> list[tuple[Evidence, Evidence]]:
    """Each of the task's fix photos `fixes` nearly the same as one of `earlier` (the task's
    finding and the site's photos, `site_photos`), with that photo; the task's own fix
    photos are not compared with one another."""
    others = [
        e
        for e in {e.id: e for e in earlier}.values()
        if not (e.task_id == task.id and e.role is EvidenceRole.FIX)
    ]
    pairs = []
    for photo in fixes:
        match = earlier_match(photo, others, max_distance)
        if match is not None:
            pairs.append((photo, match))
    return pairs
