"""Which report file, 通报 or watermarked photos an outbox row asks for.

Flows cannot render (that would hold the inspection's transaction for seconds), so they queue a
row whose payload names the inspection and the format (or the month of a 通报, or the photos
with their watermark bands, `bot.core.messages.Stamped`); the outbox worker's `prepare` hook
turns it into stored files just before sending. It sits in core so that the flows, the outbox
worker and the reports all read the same request without importing one another.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class ReportFormat(StrEnum):
    XLSX = "xlsx"
    PDF = "pdf"
    PNG = "png"

    @property
    def mime(self) -> str:
        return _MIME[self]


_MIME = {
    ReportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ReportFormat.PDF: "application/pdf",
    ReportFormat.PNG: "image/png",
}

BULLETIN_FORMATS = (ReportFormat.XLSX, ReportFormat.PDF)
"""The files of a 通报, in the order they are sent."""

REPORT_KEY = "report"
FORMAT_KEY = "format"
ASKED_KEY = "asked"
"""The request a report row belongs to: the rows queued together share one model read
(bot.reports.service)."""
BANDS_KEY = "bands"
"""One watermark band per photo of the row ("" for a photo sent as stored), until prepared."""
STAMPED_KEY = "stamped"
"""Once prepared: the originals the row's photos are renditions of (the evidence shown)."""
BULLETIN_KEY = "bulletin"
REGION_KEY = "region"


def new_request() -> str:
    """A token naming one request for report files (made once per set of rows queued
    together)."""
    return uuid.uuid4().hex


def report_request(
    inspection_id: int, fmt: ReportFormat, asked: str | None = None
) -> dict[str, Any]:
    """The payload keys that mark an outbox row as "render this report file, then send it";
    `asked` is the token of the request the row belongs to (`new_request`)."""
    token = {ASKED_KEY: asked} if asked is not None else {}
    return {REPORT_KEY: inspection_id, FORMAT_KEY: fmt.value, **token}


def requested(payload: Mapping[str, Any]) -> tuple[int, ReportFormat] | None:
    """The (inspection, format) an outbox payload asks for, or None for an ordinary row."""
    inspection_id = payload.get(REPORT_KEY)
    if not isinstance(inspection_id, int):
        return None
    return inspection_id, ReportFormat(payload[FORMAT_KEY])


def asked(payload: Mapping[str, Any]) -> str | None:
    """The token of the request a report row belongs to; None for a row queued before rows
    carried one."""
    token = payload.get(ASKED_KEY)
    return token if isinstance(token, str) else None


def bulletin_request(month: str, region_id: int | None, fmt: ReportFormat) -> dict[str, Any]:
    """The payload keys that mark an outbox row as "render the month's 通报, then send it"."""
    return {BULLETIN_KEY: month, REGION_KEY: region_id, FORMAT_KEY: fmt.value}


def bulletin_requested(payload: Mapping[str, Any]) -> tuple[str, int | None, ReportFormat] | None:
    """The (month, region or None, format) of a 通报 an outbox payload asks for."""
    month = payload.get(BULLETIN_KEY)
    if not isinstance(month, str):
        return None
    region = payload.get(REGION_KEY)
    return month, region if isinstance(region, int) else None, ReportFormat(payload[FORMAT_KEY])


def bands(payload: Mapping[str, Any]) -> list[str] | None:
    """The watermark bands a row's photos still need, or None (none, or already made)."""
    found = payload.get(BANDS_KEY)
    return [str(b) for b in found] if isinstance(found, list) and any(found) else None


def needs_preparing(payload: Mapping[str, Any]) -> bool:
    """Whether the row's files are made just before sending (a report, a 通报, watermarked
    photos)."""
    return (
        requested(payload) is not None
        or bulletin_requested(payload) is not None
        or bands(payload) is not None
    )
