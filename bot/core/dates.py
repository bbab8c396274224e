"""Dates and times for people: reading a 达标时间 they type (ISO and common Chinese forms,
relative days), and showing a stored moment, always on the site's wall clock."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.texts import plain, render

_FULL = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?$")
_MONTH_DAY = re.compile(r"^(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?$")
_IN_DAYS = re.compile(r"^\+?\s*(\d{1,3})\s*(?:天|日)(?:后|以后|之后)?$|^\+\s*(\d{1,3})$")
_WORDS = {"今天": 0, "明天": 1, "后天": 2, "大后天": 3}
_WEEK = re.compile(r"^(下)?(?:周|星期|礼拜)([一二三四五六日天])$")
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_FULLWIDTH = str.maketrans("０１２３４５６７８９－／．＋", "0123456789-/.+")


class DateError(ValueError):
    """Text that is not a date we can read, or a date in the past. `template` and `values`
    tell the person why (the message itself is that text, rendered); `proposed` is the date
    they may have meant, to offer as a button."""

    def __init__(self, template: str, proposed: date | None = None, **values: str) -> None:
        super().__init__(render(template, **values))
        self.template = template
        self.proposed = proposed
        self.values: dict[str, Any] = dict(values)


def parse_due_date(text: str, today: date) -> date:
    """Parse a target date; past dates are refused (today itself is allowed).

    A month and day without a year that has already passed this year is not silently taken
    as next year's (12月5日 typed on 12-06 would be a year away): it is refused with next
    year's date proposed, for the person to confirm."""
    value = text.strip().translate(_FULLWIDTH)
    result = _parse(value, today)
    if result is None:
        raise DateError("date_unreadable")
    if result < today:
        raise DateError("date_past", date=result.isoformat())
    return result


def _parse(value: str, today: date) -> date | None:
    if value in _WORDS:
        return today + timedelta(days=_WORDS[value])
    if match := _IN_DAYS.match(value):
        return today + timedelta(days=int(match.group(1) or match.group(2)))
    if match := _WEEK.match(value):
        monday = today - timedelta(days=today.weekday())
        day = monday + timedelta(days=_WEEKDAYS[match.group(2)])
        if match.group(1) or day <= today:
            day += timedelta(days=7)
        return day
    try:
        if match := _FULL.match(value):
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if not (match := _MONTH_DAY.match(value)):
            return None
        candidate = date(today.year, int(match.group(1)), int(match.group(2)))
    except ValueError:
        return None
    if candidate < today:
        proposed = _next_year(candidate)
        raise DateError(
            "date_passed_this_year",
            proposed,
            typed=plain("dates", "month_day", month=candidate.month, day=candidate.day),
            next_year=proposed.isoformat(),
        )
    return candidate


def _next_year(day: date) -> date:
    """The same month and day a year later; 2月29日 falls on 2月28日 in a common year."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def local(moment: datetime, timezone: str) -> datetime:
    """A stored moment (aware, UTC) as the site's wall-clock time."""
    return moment.astimezone(ZoneInfo(timezone))


def shown(moment: datetime, timezone: str, *, year: bool = True) -> str:
    """A moment as people read it, in the site's time zone: 2026-12-06 15:47 (or 12-06 15:47)."""
    return local(moment, timezone).strftime("%Y-%m-%d %H:%M" if year else "%m-%d %H:%M")
