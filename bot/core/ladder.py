"""The escalation ladder (逾期督办): after how many days overdue the managers of which level
hear of an open task (company setting `reminders.ladder`, default day 1 the site's, day 3 the
region's, day 7 the company's). Pure rules: who holds the role at a level is looked up when a
rung is reached (bot/flows/reminder_sweep.py), and each level is told once per task."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from itertools import pairwise

RUNG_PREFIX = "escalate:"


class Level(StrEnum):
    """The levels a role is held at, lowest first."""

    SITE = "site"
    REGION = "region"
    COMPANY = "company"


Rung = tuple[int, Level]
"""(days overdue, level whose managers are told)."""

DEFAULT_LADDER: tuple[Rung, ...] = ((1, Level.SITE), (3, Level.REGION), (7, Level.COMPANY))
NAMES = {"项目": Level.SITE, "区域": Level.REGION, "公司": Level.COMPANY}
"""The Chinese names a setting may use for a level."""


def rank(level: Level) -> int:
    return list(Level).index(level)


def effective(level: Level, *, has_region: bool) -> Level:
    """The level actually told: a site without a region skips to the company."""
    if level is Level.REGION and not has_region:
        return Level.COMPANY
    return level


def check(rungs: Iterable[Rung]) -> tuple[Rung, ...]:
    """A ladder climbs: days strictly increasing, levels strictly higher; ValueError if not."""
    ladder = tuple(rungs)
    if not ladder:
        raise ValueError("empty")
    for (days, level), (later_days, later_level) in pairwise(ladder):
        if later_days <= days or rank(later_level) <= rank(level):
            raise ValueError("climb")
    return ladder


def to_climb(
    ladder: Iterable[Rung], *, has_region: bool, reached: Level | None
) -> list[tuple[int, Level]]:
    """The rungs still to come as (days, effective level), each level once: rungs at or below
    the level already reached are done, and a rung that resolves to a level an earlier rung
    already tells (a region-less site's region rung and company rung) is sent once."""
    top = rank(reached) if reached is not None else -1
    coming = []
    for days, level in ladder:
        told = effective(level, has_region=has_region)
        if rank(told) > top:
            coming.append((days, told))
            top = rank(told)
    return coming


def kind(level: Level) -> str:
    """The reminder kind of a rung (a reminder row without a person)."""
    return f"{RUNG_PREFIX}{level}"


def level_of(reminder_kind: str) -> Level | None:
    """The level of a rung's reminder kind; None for a reminder to the 责任人."""
    if not reminder_kind.startswith(RUNG_PREFIX):
        return None
    return Level(reminder_kind.removeprefix(RUNG_PREFIX))


def highest(levels: Iterable[Level]) -> Level | None:
    return max(levels, key=rank, default=None)
