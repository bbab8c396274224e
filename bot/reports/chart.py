"""The chart sent as a photo: per-section percentages, this inspection against the previous one.

Drawn on a bare Figure with the Agg canvas (no pyplot and its global state), so it is safe in a
worker thread or process and never needs a display.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from functools import cache

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.core.texts import label, plain
from bot.reports.fonts import CJK_FAMILY, LATIN_FAMILY, cjk_font
from bot.reports.model import ReportModel, percent_text

THIS_COLOUR = "#2F6DB5"
PREVIOUS_COLOUR = "#B8C4D6"
BAND_COLOUR = "#9A9A9A"


@cache
def font() -> font_manager.FontProperties:
    """Latin letters and digits from DejaVu Sans, every CJK character from the shipped font."""
    font_manager.fontManager.addfont(str(cjk_font()))
    return font_manager.FontProperties(family=[LATIN_FAMILY, CJK_FAMILY], size=10)


def tick_label(text: str) -> str:
    return "\n".join(textwrap.wrap(text, 7)) or text


def draw_bands(
    axes: Axes, bands: Sequence[tuple[float, str]], small: font_manager.FontProperties
) -> None:
    """The grade bands as dashed lines across the plot, named at the right."""
    for floor, name in bands:
        axes.axhline(floor, color=BAND_COLOUR, linewidth=0.8, linestyle="--", zorder=0)
        axes.text(
            1.005,
            floor,
            f"{name} {floor:g}",
            color=BAND_COLOUR,
            fontproperties=small,
            va="center",
            transform=axes.get_yaxis_transform(),
        )


def render_png(model: ReportModel) -> bytes:
    fp = font()
    small = fp.copy()
    small.set_size(8)
    title_font = fp.copy()
    title_font.set_size(13)
    groups = [(s.heading, s.percent, s.previous_percent) for s in model.sections]
    previous = model.previous
    groups.append((label("common", "total"), model.percent, previous.percent if previous else None))
    figure = Figure(figsize=(10, 5.6), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(groups)))
    width = 0.38 if previous else 0.55
    this_x = [x - width / 2 for x in positions] if previous else positions
    this_bars = axes.bar(
        this_x,
        [p or 0 for _, p, _ in groups],
        width,
        color=THIS_COLOUR,
        label=label("report", "chart_this"),
    )
    axes.bar_label(
        this_bars, labels=[percent_text(p) for _, p, _ in groups], padding=2, fontproperties=small
    )
    if previous:
        before = axes.bar(
            [x + width / 2 for x in positions],
            [p or 0 for _, _, p in groups],
            width,
            color=PREVIOUS_COLOUR,
            label=plain("report", "chart_previous", completed=previous.completed[:10]),
        )
        axes.bar_label(
            before,
            labels=[percent_text(p) for _, _, p in groups],
            padding=2,
            fontproperties=small,
        )
    draw_bands(axes, model.bands, small)
    axes.set_xticks(positions, [tick_label(name) for name, _, _ in groups], fontproperties=fp)
    axes.set_ylim(0, 124)
    axes.set_ylabel(label("report", "chart_axis"), fontproperties=fp)
    axes.set_yticks(range(0, 101, 20))
    for tick in axes.get_yticklabels():
        tick.set_fontproperties(small)
    axes.spines[["top", "right"]].set_visible(False)
    title = plain(
        "report",
        "chart_title",
        site=model.site,
        title=model.title,
        percent=percent_text(model.percent),
        grade=model.grade,
    )
    axes.set_title(title, fontproperties=title_font)
    axes.legend(prop=fp, loc="upper left", ncols=2, frameon=False)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
