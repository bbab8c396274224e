"""Whether a fix photo is nearly the same picture as an earlier one (the 整改 "after" photo reused
from the finding or from last month): perceptual hashes within a set number of bits. A re-sent,
resized or recompressed copy stays within 2 bits, a re-shot of the same scene differs by 4 or
more (docs/EVIDENCE.md), so the flag means "the same photo", not "the same place"."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.pixels import hash_distance
from storage.records import Evidence


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
