"""The fonts every report is drawn with, whatever the machine has installed.

Droid Sans Fallback (Apache-2.0, shipped in fonts/ with its licence) has every CJK ideograph
but no Latin letters, digits or arrows; DejaVu Sans, which matplotlib bundles, has those. Text
is set in DejaVu Sans and falls back to Droid Sans Fallback per character (see docs/REPORTS.md).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import matplotlib

from bot.core.texts import plain

CJK_FAMILY = "Droid Sans Fallback"
LATIN_FAMILY = "DejaVu Sans"


@cache
def cjk_font() -> Path:
    path = Path(str(resources.files("bot.reports") / "fonts" / "DroidSansFallbackFull.ttf"))
    if not path.is_file():
        raise FileNotFoundError(plain("report", "font_missing", path=path))
    return path


@cache
def latin_font(bold: bool = False) -> Path:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
