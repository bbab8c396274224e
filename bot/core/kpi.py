"""The KPI rules of docs/KPI.md, on plain facts: which tasks a period counts, which of them
were completed and completed on time, which are 逾期未整改, and the rates.

Nothing here reads the database; bot/flows/kpis.py gathers the facts and groups them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.core.texts import plain

_MONTH = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?\s*$")


@dataclass(frozen=True)
class Period:
    """A calendar month: `first` day included, `last` (the next month's first day) excluded."""

    first: date
    last: date

    @classmethod
    def month(cls, day: date) -> Period:
        first = day.replace(day=1)
        last = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return cls(first, last)

    def previous(self) -> Period:
        return Period.month(date.fromordinal(self.first.toordinal() - 1))

    def contains(self, day: date) -> bool:
        return self.first <= day < self.last

    @property
    def label(self) -> str:
        return f"{self.first:%Y-%m}"

    @property
    def title(self) -> str:
        return plain("dates", "month", year=self.first.year, month=self.first.month)


def parse_month(text: str) -> Period | None:
    """A month typed as 2026-11, 2026/11, 2026.11 or 2026年11月; None if it is not one."""
    found = _MONTH.match(text)
    if found is None or not 1 <= int(found[2]) <= 12:
        return None
    return Period.month(date(int(found[1]), int(found[2]), 1))


@dataclass(frozen=True)
class TaskFact:
    """What the rules need of a task: its current 达标时间, its state, and the site-local day
    it was completed (None while it is not 已完成)."""

    due: date | None
    done: bool
    open: bool
    withdrawn: bool
    completed_on: date | None


def counted(task: TaskFact, period: Period) -> bool:
    """Tasks counted for a period: current 达标时间 in the period, 已撤销 excluded."""
    return task.due is not None and not task.withdrawn and period.contains(task.due)


def completed_on_time(task: TaskFact) -> bool:
    """已完成 on or before the 达标时间."""
    return (
        task.done
        and task.due is not None
        and task.completed_on is not None
        and task.completed_on <= task.due
    )


def overdue_open(task: TaskFact, today: date, period: Period) -> bool:
    """逾期未整改 at the time of reporting (`today`, the site's date): still open and past its
    达标时间. For a past period only tasks due by the period's end count, so a month's
    report does not take in later months' tasks."""
    return task.open and task.due is not None and task.due < min(today, period.last)


def rate(part: int | float, whole: int | float) -> float | None:
    """A share between 0 and 1 (4 decimals), or None when nothing was counted."""
    return round(part / whole, 4) if whole else None


@dataclass
class TaskTally:
    tasks: int = 0
    completed: int = 0
    completed_on_time: int = 0
    overdue_open: int = 0

    def add(self, task: TaskFact, period: Period, today: date) -> None:
        if counted(task, period):
            self.tasks += 1
            self.completed += task.done
            self.completed_on_time += completed_on_time(task)
        self.overdue_open += overdue_open(task, today, period)

    def measures(self) -> dict[str, Any]:
        return {
            "tasks": self.tasks,
            "completed": self.completed,
            "completed_on_time": self.completed_on_time,
            "completion_rate": rate(self.completed, self.tasks),
            "timely_rate": rate(self.completed_on_time, self.tasks),
            "overdue_open": self.overdue_open,
        }


@dataclass
class ScoreTally:
    """得分率: points ÷ applicable maximum over the inspections completed in the period."""

    inspections: int = 0
    score: float = 0.0
    maximum: float = 0.0

    def add(self, score: float | None, maximum: float | None) -> None:
        self.inspections += 1
        self.score += score or 0.0
        self.maximum += maximum or 0.0

    def measures(self) -> dict[str, Any]:
        return {"inspections": self.inspections, "score_rate": rate(self.score, self.maximum)}


@dataclass
class ResultTally:
    """项目确认 of the inspections completed in the period: `confirmed` (已确认, including
    results submitted before 项目确认 existed) and `unconfirmed` (待确认 or 申诉中)."""

    confirmed: int = 0
    unconfirmed: int = 0

    def add(self, confirmed: bool) -> None:
        if confirmed:
            self.confirmed += 1
        else:
            self.unconfirmed += 1

    def measures(self) -> dict[str, Any]:
        return {"confirmed": self.confirmed, "unconfirmed": self.unconfirmed}
