"""The monthly 通报 as an A4 PDF, in the order a 品质部 sends it: title and scope, summary,
the projects ranked by 得分率, the chart, the KPI tables per project and region, the items
most often lost, and the 不合格项汇总表. Fonts as pdf.py embeds them (CJK from the shipped
font)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from fpdf import FontFace
from fpdf.enums import WrapMode

from bot.core.texts import label, plain
from bot.reports.bulletin_chart import render_bulletin_png
from bot.reports.bulletin_model import (
    FINDING_HEADERS,
    KPI_HEADERS,
    LOSS_HEADERS,
    RANK_HEADERS,
    UNCONFIRMED_LEGEND,
    BulletinModel,
    KpiRow,
)
from bot.reports.pdf import BODY, GREY, HEAD_FILL, Document, printed, set_up

HEADINGS = FontFace(emphasis="BOLD", fill_color=HEAD_FILL)


class _Document(Document):
    heading_keep = 24

    def __init__(self, model: BulletinModel) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.model = model
        set_up(self, plain("bulletin", "document_title", title=model.title, scope=model.scope))

    def header(self) -> None:
        self.set_font(BODY, size=7.5)
        self.set_text_color(*GREY)
        self.set_y(7)
        header = plain("bulletin", "page_header", title=self.model.title, scope=self.model.scope)
        self.cell(0, 4, header, align="L")
        self.set_text_color(0, 0, 0)
        self.set_y(14)


def render_bulletin_pdf(model: BulletinModel) -> bytes:
    pdf = _Document(model)
    pdf.add_page()
    pdf.set_font(BODY, "B", 16)
    pdf.cell(0, 10, model.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(BODY, size=9)
    pdf.cell(0, 6, model.heading, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.multi_cell(0, 5, model.summary(), wrapmode=WrapMode.CHAR, new_x="LMARGIN", new_y="NEXT")
    pdf.heading(label("bulletin", "ranking"))
    _table(pdf, (14, 38, 24, 18, 20, 20, 26, 30), RANK_HEADERS, [r.cells() for r in model.ranking])
    bands = plain("bulletin", "bands", bands=sorted(model.bands, reverse=True))
    pdf.set_font(BODY, size=8)
    pdf.cell(0, 6, bands, new_x="LMARGIN", new_y="NEXT")
    if model.marked:
        pdf.cell(0, 6, UNCONFIRMED_LEGEND, new_x="LMARGIN", new_y="NEXT")
    if model.ranking:
        if pdf.will_page_break(108):
            pdf.add_page()
        pdf.image(io.BytesIO(render_bulletin_png(model)), w=190)
    pdf.heading(label("bulletin", "site_kpis"))
    _kpis(pdf, label("columns", "site"), model.sites, model.total)
    if model.regions:
        pdf.heading(label("bulletin", "region_kpis"))
        _kpis(pdf, label("columns", "region"), model.regions, None)
    pdf.heading(label("bulletin", "losses"))
    losses = [
        (
            str(n),
            loss.standard,
            str(loss.no),
            printed(loss.content),
            str(loss.findings),
            f"{loss.points_lost:g}",
        )
        for n, loss in enumerate(model.losses, start=1)
    ]
    _table(
        pdf,
        (12, 34, 12, 92, 20, 20),
        LOSS_HEADERS,
        losses or [("—", label("bulletin", "no_losses"), "", "", "", "")],
    )
    pdf.heading(label("bulletin", "findings"))
    findings = [(*r.cells()[:2], printed(r.content), *r.cells()[3:]) for r in model.findings]
    _table(
        pdf,
        (28, 10, 72, 18, 20, 20, 22),
        FINDING_HEADERS,
        findings or [(label("bulletin", "no_findings"), "", "", "", "", "", "")],
    )
    return bytes(pdf.output())


def _kpis(pdf: _Document, title: str, rows: Sequence[KpiRow], total: KpiRow | None) -> None:
    body = [(r.name, *r.cells()) for r in rows]
    if total is not None:
        body.append((total.name, *total.cells()))
    _table(pdf, (36, 20, 20, 20, 22, 24, 24, 24), (title, *KPI_HEADERS), body)


def _table(
    pdf: _Document,
    widths: Sequence[float],
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
) -> None:
    pdf.set_font(BODY, size=7.5)
    with pdf.table(
        col_widths=tuple(widths),
        headings_style=HEADINGS,
        line_height=4.2,
        text_align="CENTER",
        wrapmode=WrapMode.CHAR,
        padding=0.8,
    ) as table:
        table.row(tuple(headers))
        for row in rows:
            table.row(tuple(row))
