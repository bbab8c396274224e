"""The 通报's chart: each project's 得分率 this month against last month, ranked, with the grade
bands. Drawn like chart.py (bare Figure, Agg canvas, the shipped CJK font)."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.core.texts import label, plain
from bot.reports.bulletin_model import BulletinModel
from bot.reports.chart import PREVIOUS_COLOUR, THIS_COLOUR, draw_bands, font, tick_label
from bot.reports.model import percent_text


def render_bulletin_png(model: BulletinModel) -> bytes:
    fp = font()
    small = fp.copy()
    small.set_size(8)
    title_font = fp.copy()
    title_font.set_size(13)
    rows = list(model.ranking)
    figure = Figure(figsize=(10, 5.6), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(rows)))
    width = 0.38
    this = axes.bar(
        [x - width / 2 for x in positions],
        [r.percent or 0 for r in rows],
        width,
        color=THIS_COLOUR,
        label=model.period,
    )
    axes.bar_label(
        this, labels=[percent_text(r.percent) for r in rows], padding=2, fontproperties=small
    )
    before = axes.bar(
        [x + width / 2 for x in positions],
        [r.previous or 0 for r in rows],
        width,
        color=PREVIOUS_COLOUR,
        label=label("bulletin", "chart_previous"),
    )
    axes.bar_label(
        before, labels=[percent_text(r.previous) for r in rows], padding=2, fontproperties=small
    )
    draw_bands(axes, model.bands, small)
    axes.set_xticks(positions, [tick_label(r.site) for r in rows], fontproperties=fp)
    axes.set_ylim(0, 124)
    axes.set_ylabel(label("report", "chart_axis"), fontproperties=fp)
    axes.set_yticks(range(0, 101, 20))
    for tick in axes.get_yticklabels():
        tick.set_fontproperties(small)
    axes.spines[["top", "right"]].set_visible(False)
    title = plain("bulletin", "chart_title", title=model.title, scope=model.scope)
    axes.set_title(title, fontproperties=title_font)
    axes.legend(prop=fp, loc="upper left", ncols=2, frameon=False)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
