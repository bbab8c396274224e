"""Watermarked renditions of evidence photos for rows that ask for them
(bot.reports.request.watermark_request): a photo shown to other people — a project group —
carries the band (bot.reports.watermark). The original is never touched; the rendition is
stored under its own SHA-256 and sent in its place."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.core.report_request import WATERMARK_KEY, watermarks
from bot.reports.images import scale
from storage.evidence import EvidenceStore

log = logging.getLogger(__name__)

SIDE = 1600
"""Long side of a rendition: sharp on a phone, well inside every chat's image limits."""


async def watermarked(files: EvidenceStore, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with each photo it asks to watermark replaced by its stamped rendition
    (a photo that cannot be read is sent as it is)."""
    pairs = watermarks(payload)
    if not pairs:
        return payload
    bands = dict(pairs)
    photos = []
    for sha256 in payload.get("photos", []):
        band = bands.get(sha256)
        if band is None:
            photos.append(sha256)
            continue
        data = await files.get(sha256)
        rendition = await asyncio.to_thread(scale, data, SIDE, 85, band)
        if rendition is None:
            photos.append(sha256)
            continue
        photos.append((await files.put(rendition.data)).sha256)
    rest = {key: value for key, value in payload.items() if key != WATERMARK_KEY}
    return rest | {"photos": photos}
