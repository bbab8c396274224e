"""The rules of 项目确认: the appeal window in working days and a result's status.

A result is open to the site for `appeal_window_days` working days after the day it was
submitted (Saturdays, Sundays and the company's `holidays` do not count, all in the site's
time zone). The window closes at midnight after its last working day: then an unsigned
result is confirmed automatically (逾期自动确认). The site's managers are reminded once, at
09:00 on that last day.

Separation of duties: an appeal is decided (维持/改判/撤销) by the inspection's inspector or a
manager one level up from its site, never by whoever filed it nor by a 项目经理 of the
inspected site itself (`may_decide_appeal`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

REMIND_AT = time(9, 0)


def is_working_day(day: date, holidays: Collection[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def last_window_day(submitted: date, days: int, holidays: Collection[date]) -> date:
    """The `days`-th working day after the day of submission."""
    day, left = submitted, days
    while left:
        day += timedelta(days=1)
        if is_working_day(day, holidays):
            left -= 1
    return day


def window(
    submitted: datetime, zone: str, days: int, holidays: Collection[date]
) -> tuple[datetime, datetime]:
    """(deadline, remind_at) in UTC for a result submitted at `submitted`."""
    tz = ZoneInfo(zone)
    last = last_window_day(submitted.astimezone(tz).date(), days, holidays)
    deadline = datetime.combine(last + timedelta(days=1), time(0), tz).astimezone(UTC)
    remind_at = datetime.combine(last, REMIND_AT, tz).astimezone(UTC)
    return deadline, max(remind_at, submitted)


def paused_days(filed: datetime, decided: datetime, zone: str) -> int:
    """Calendar days an appeal held its task (the 达标时间 moves by as many)."""
    tz = ZoneInfo(zone)
    return (decided.astimezone(tz).date() - filed.astimezone(tz).date()).days


def may_decide_appeal(
    person_id: int,
    *,
    filed_by: int,
    is_inspector: bool,
    is_manager_above: bool,
    is_site_manager: bool,
) -> bool:
    """The inspector of the inspection or a manager one level up from its site, but never
    whoever filed the appeal nor a 项目经理 of the inspected site itself."""
    if person_id == filed_by or is_site_manager:
        return False
    return is_inspector or is_manager_above
