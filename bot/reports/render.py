"""One entry point for every format; runs in the report worker process (see service.py)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.core.report_request import ReportFormat
from bot.reports.chart import render_png
from bot.reports.excel import render_xlsx
from bot.reports.model import ReportModel
from bot.reports.pdf import render_pdf


def render(fmt: ReportFormat, model: ReportModel, photos: Mapping[str, bytes]) -> bytes:
    if fmt is ReportFormat.XLSX:
        return render_xlsx(model, photos)
    if fmt is ReportFormat.PDF:
        return render_pdf(model, photos)
    return render_png(model)
