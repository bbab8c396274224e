"""The watermarked rendition of an evidence photo: what another person is shown (the
verifier's 整改前/整改后 albums, a task's photos, group posts) instead of the stored file.

The stored original is the evidence and is never altered (its SHA-256 is its identity); the
rendition is derived from it and stored beside it under its own hash. Renditions are made on
the way out (the outbox worker's `prepare` hook: flows only name the photo and its band), so a
transaction never waits for pixels.

For a caller that posts photos (e.g. group chats): `stamped(tx, photos)` gives each photo with
its band (put it in an album: `bot.core.messages.album`, the worker stamps it), and
`watermarked(files, sha256, band)` makes and stores the rendition at once, returning its hash.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from bot.core.dates import shown
from bot.core.messages import Stamped
from bot.core.report_request import BANDS_KEY, STAMPED_KEY, bands
from bot.core.texts import plain
from bot.delivery import DeliveryError
from bot.reports import photo_time
from bot.reports.images import scale
from storage.db import Tx
from storage.errors import EvidenceMissing
from storage.evidence import EvidenceStore
from storage.records import Evidence

log = logging.getLogger(__name__)

SIDE = 1600
"""Long side of a rendition: more than a chat shows (Telegram keeps 1280), enough to zoom in."""
QUALITY = 85
CACHE_SIZE = 512
_made: OrderedDict[tuple[str, str], str] = OrderedDict()
"""(original, band) → rendition hash, for the renditions made by this process."""


def band(photo: Evidence, site: str, place: str, zone: str, taker: str) -> str:
    """项目 · 第 N 项 · 拍摄 (or 接收) time · who took it."""
    at = photo_time.taken(photo, zone)
    if at:
        when = plain("report", "taken", when=shown(at, zone))
    else:
        when = plain("report", "received", when=shown(photo.created_at, zone))
    return f"{site} · {place} · {when} · {taker}"


async def stamped(tx: Tx, photos: Sequence[Evidence]) -> list[Stamped]:
    """Each photo with its band; a fix photo is placed by its task's item."""
    people = {p.id: p.name for p in await tx.people.get_many({p.created_by for p in photos})}
    result = []
    for photo in photos:
        site_id, item_no = None, photo.item_no
        if photo.task_id is not None:
            task = await tx.tasks.get(photo.task_id)
            if task is not None:
                site_id, item_no = task.site_id, item_no or task.item_no
        elif photo.inspection_id is not None:
            inspection = await tx.inspections.get(photo.inspection_id)
            site_id = inspection.site_id if inspection is not None else None
        site = await tx.sites.get(site_id) if site_id is not None else None
        place = (
            plain("report", "item", no=item_no)
            if item_no
            else plain("report", "task", id=photo.task_id)
        )
        text = band(
            photo,
            site.name if site else "",
            place,
            site.timezone if site else "UTC",
            people.get(photo.created_by, ""),
        )
        result.append(Stamped(photo.sha256, text))
    return result


async def watermarked(files: EvidenceStore, sha256: str, band: str) -> str:
    """The hash of the stored rendition of the photo with `band` across its bottom (made and
    stored if need be). A file that is no readable image is shown as it is (it was refused as
    evidence unless a channel could not check it): the hash given is returned."""
    key = (sha256, band)
    made = _made.get(key)
    if made is not None and await files.exists(made):
        _made.move_to_end(key)
        return made
    data = await files.get(sha256)
    rendition = await asyncio.to_thread(scale, data, SIDE, QUALITY, band)
    if rendition is None:
        log.warning("photo %s could not be watermarked; sent as stored", sha256[:12])
        return sha256
    stored = await files.put(rendition.data)
    _made[key] = stored.sha256
    if len(_made) > CACHE_SIZE:
        _made.popitem(last=False)
    return stored.sha256


async def prepare(files: EvidenceStore, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The outbox worker's `prepare` step for a row with watermark bands: the payload with the
    renditions in `photos` and the originals in `stamped`; None for a row without bands."""
    stamps = bands(payload)
    if stamps is None:
        return None
    originals = [str(sha) for sha in payload.get("photos") or []]
    try:
        photos = [
            await watermarked(files, sha, band) if band else sha
            for sha, band in zip(originals, stamps, strict=True)
        ]
    except (EvidenceMissing, ValueError) as exc:
        raise DeliveryError(f"a photo to watermark: {exc.__class__.__name__}") from None
    rest = {k: v for k, v in payload.items() if k != BANDS_KEY}
    return {**rest, "photos": photos, STAMPED_KEY: originals}
