"""Which report file an outbox row asks for.

Flows cannot render (that would hold the inspection's transaction for seconds), so they queue a
row whose payload names the inspection and the format; the outbox worker's `prepare` hook turns
it into a stored file just before sending. It sits in core so that the flows, the outbox
worker and the reports all read the same request without importing one another.
"""

from __future__ import annotations

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

REPORT_KEY = "report"
FORMAT_KEY = "format"


def report_request(inspection_id: int, fmt: ReportFormat) -> dict[str, Any]:
    """The payload keys that mark an outbox row as "render this report file, then send it"."""
    return {REPORT_KEY: inspection_id, FORMAT_KEY: fmt.value}


def requested(payload: dict[str, Any]) -> tuple[int, ReportFormat] | None:
    """The (inspection, format) an outbox payload asks for, or None for an ordinary row."""
    inspection_id = payload.get(REPORT_KEY)
    if not isinstance(inspection_id, int):
        return None
    return inspection_id, ReportFormat(payload[FORMAT_KEY])
