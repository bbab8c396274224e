"""Inspection plans as pure rules: the period a day falls in, the window inside it, and an
occurrence's status. Days are calendar days in the site's time zone; a window runs from the
start of its first day to the start of the day after its last (site time), stored in UTC.

Window days: for a weekly plan 1–7 (Monday–Sunday); for a monthly plan the days of the month
(a day past the month's end means its last day); for a quarterly plan the days of the quarter
(1–92, likewise cut at the quarter's end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.core.texts import label, plain

WEEK, MONTH, QUARTER = "week", "month", "quarter"  # storage.records.PlanEvery's values
# storage.records.InspectionStatus's values
COMPLETED, OPEN_INSPECTION = "completed", frozenset({"in_progress", "paused"})
LIMITS = {WEEK: 7, MONTH: 31, QUARTER: 92}
REMIND_BEFORE = timedelta(days=1)


def every_name(every: str) -> str:
    """周检, 月检 or 季检."""
    return label("plan_every", every)


class OccurrenceStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DONE_LATE = "done_late"
    MISSED = "missed"

    @property
    def label(self) -> str:
        return label("plan_status", self.value)


class WindowError(ValueError):
    """A window that cannot exist (empty, or days out of range); the text is for people."""


def check_window(every: str, first: int | None, last: int | None) -> tuple[int, int]:
    """The window's days with the defaults filled in (the whole period)."""
    limit = LIMITS[every]
    start = 1 if first is None else first
    end = limit if last is None else last
    if not 1 <= start <= limit or not 1 <= end <= limit:
        raise WindowError(plain("errors", "window_out_of_range", limit=limit))
    if start > end:
        raise WindowError(plain("errors", "window_empty", start=start, end=end))
    return start, end


def period_start(day: date, every: str) -> date:
    if every == WEEK:
        return day - timedelta(days=day.weekday())
    if every == MONTH:
        return day.replace(day=1)
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def next_period(start: date, every: str) -> date:
    if every == WEEK:
        return start + timedelta(days=7)
    months = 1 if every == MONTH else 3
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


@dataclass(frozen=True)
class Window:
    period_start: date
    first_day: date
    last_day: date
    start: datetime  # UTC
    end: datetime  # UTC, exclusive


def window(start: date, every: str, first: int, last: int, timezone: str) -> Window:
    """The window of the period beginning `start`, in UTC for the site's time zone."""
    final = next_period(start, every) - timedelta(days=1)
    first_day = min(start + timedelta(days=first - 1), final)
    last_day = min(start + timedelta(days=last - 1), final)
    zone = ZoneInfo(timezone)
    begins = datetime.combine(first_day, time(0), tzinfo=zone).astimezone(UTC)
    ends = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return Window(start, first_day, last_day, begins, ends)


def current_window(now: datetime, every: str, first: int, last: int, timezone: str) -> Window:
    """The window of the period that `now` (site time) falls in."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    return window(period_start(today, every), every, first, last, timezone)


def status(
    now: datetime,
    window_end: datetime,
    inspection: str | None,
    completed_at: datetime | None,
) -> OccurrenceStatus:
    """未开始 until the window closes, then 漏检 unless an inspection was started; 进行中 while
    it is open; 已完成 when submitted by the window's end, else 逾期完成. A cancelled
    inspection counts as none."""
    if inspection == COMPLETED and completed_at is not None:
        if completed_at <= window_end:
            return OccurrenceStatus.DONE
        return OccurrenceStatus.DONE_LATE
    if inspection in OPEN_INSPECTION:
        return OccurrenceStatus.IN_PROGRESS
    return OccurrenceStatus.NOT_STARTED if now < window_end else OccurrenceStatus.MISSED
