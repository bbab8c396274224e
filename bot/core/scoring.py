"""Scores, percentages, grades and level proposals. Pure functions over a standard and answers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.core.texts import label
from standards.schema import Item, Level, Section, Standard

DEFAULT_GRADE_BANDS: tuple[tuple[float, str], ...] = ((90, "优秀"), (80, "良好"), (70, "合格"))


@dataclass(frozen=True)
class Mark:
    """The current answer to one item: a score, or 不适用 (excluded from the maximum)."""

    score: float | None
    not_applicable: bool = False


@dataclass(frozen=True)
class SectionTotal:
    code: str
    title: str
    score: float
    applicable_max: float
    answered: int
    items: int
    lost: tuple[int, ...]

    @property
    def percent(self) -> float | None:
        return None if self.applicable_max == 0 else 100 * self.score / self.applicable_max

    @property
    def complete(self) -> bool:
        return self.answered == self.items


@dataclass(frozen=True)
class Totals:
    score: float
    applicable_max: float
    answered: int
    items: int
    grade: str | None
    sections: tuple[SectionTotal, ...]

    @property
    def percent(self) -> float | None:
        return None if self.applicable_max == 0 else 100 * self.score / self.applicable_max


GradeBands = tuple[tuple[float, str], ...]


def grade_for(percent: float | None, bands: Sequence[tuple[float, str]]) -> str | None:
    """The grade of a percentage. No default bands: every grade comes from the company's
    (`bot.core.company_settings.grade_bands`, which falls back to DEFAULT_GRADE_BANDS)."""
    if percent is None:
        return None
    for floor, name in sorted(bands, reverse=True):
        if percent >= floor - 1e-9:
            return name
    return below_bands()


def section_total(section: Section, marks: Mapping[int, Mark]) -> SectionTotal:
    score = 0.0
    applicable = 0.0
    answered = 0
    lost: list[int] = []
    for item in section.items:
        mark = marks.get(item.no)
        if mark is None:
            continue
        answered += 1
        if mark.not_applicable or mark.score is None:
            continue
        score += mark.score
        applicable += item.max_score
        if mark.score < item.max_score:
            lost.append(item.no)
    return SectionTotal(
        code=section.code,
        title=section.title,
        score=score,
        applicable_max=applicable,
        answered=answered,
        items=len(section.items),
        lost=tuple(lost),
    )


def totals(
    standard: Standard, marks: Mapping[int, Mark], bands: Sequence[tuple[float, str]]
) -> Totals:
    sections = tuple(section_total(section, marks) for section in standard.sections)
    score = sum(s.score for s in sections)
    applicable = sum(s.applicable_max for s in sections)
    percent = None if applicable == 0 else 100 * score / applicable
    return Totals(
        score=score,
        applicable_max=applicable,
        answered=sum(s.answered for s in sections),
        items=len(standard.items),
        grade=grade_for(percent, bands),
        sections=sections,
    )


def _middle(item: Item) -> Level:
    """The highest level strictly between the top and 0, or 0 when there is none."""
    between = [lv for lv in item.levels if 0 < lv.score < item.max_score]
    return between[0] if between else item.levels[-1]


def propose_from_samples(item: Item, passed: int, taken: int) -> Level:
    """All samples good → top level; none good → 0; some → the level in between."""
    if taken == 0 or passed == 0:
        return item.levels[-1]
    if passed == taken:
        return item.levels[0]
    return _middle(item)


def propose_from_figures(item: Item, figures: Mapping[str, float]) -> Level | None:
    """Compare entered figures with the item's targets; None if no figure was entered."""
    if item.target is None:
        return None
    entered = [(m, figures[m.name]) for m in item.target.metrics if m.name in figures]
    if not entered:
        return None
    met = [m.met_by(value) for m, value in entered]
    if item.target.mode == "any":
        return item.levels[0] if any(met) else _middle(item)
    if all(met) and len(entered) == len(item.target.metrics):
        return item.levels[0]
    if any(met):
        return _middle(item)
    return item.levels[-1]


def progress_bar(done: int, total: int, width: int = 10) -> str:
    """Any progress shows at least one filled cell; only a finished run fills them all."""
    filled = 0 if total == 0 or done == 0 else min(width, math.ceil(width * done / total))
    return "▰" * filled + "▱" * (width - filled)


def below_bands() -> str:
    """The grade below the lowest band (待改进)."""
    return label("grades", "below_bands")
