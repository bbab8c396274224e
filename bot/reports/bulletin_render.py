"""One entry point for the 通报's formats (run in the report worker process, or inline by the
CLI)."""

from __future__ import annotations

from bot.core.report_request import ReportFormat
from bot.reports.bulletin_excel import render_bulletin_xlsx
from bot.reports.bulletin_model import BulletinModel
from bot.reports.bulletin_pdf import render_bulletin_pdf


def render_bulletin(fmt: str, model: BulletinModel) -> bytes:
    if ReportFormat(fmt) is ReportFormat.PDF:
        return render_bulletin_pdf(model)
    return render_bulletin_xlsx(model)
