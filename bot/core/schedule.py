"""When a weekly or monthly send was last due: the scheduled jobs run every minute, and each
claims the period of its latest due moment once (storage job_runs), so a send missed while
the bot was down goes out when it is back, and only once."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _clock(at: str) -> time:
    return time(int(at[:2]), int(at[3:]))


def last_weekly(now: datetime, zone: ZoneInfo, day: str, at: str) -> datetime:
    """The latest `day` (mon…sun) at `at` (HH:MM, in `zone`) at or before `now`."""
    local = now.astimezone(zone)
    back = (local.weekday() - WEEKDAYS.index(day)) % 7
    due = datetime.combine(local.date() - timedelta(days=back), _clock(at), zone)
    return due if due <= local else due - timedelta(days=7)


def week_label(moment: datetime) -> str:
    """The ISO week of a moment's date: 2026-W49."""
    year, week, _ = moment.date().isocalendar()
    return f"{year}-W{week:02d}"


def last_monthly(now: datetime, zone: ZoneInfo, day: int, at: str) -> datetime:
    """The latest day `day` (1–28) of a month at `at` (in `zone`) at or before `now`."""
    local = now.astimezone(zone)
    due = datetime.combine(local.date().replace(day=day), _clock(at), zone)
    if due > local:
        previous = local.date().replace(day=1) - timedelta(days=1)
        due = datetime.combine(previous.replace(day=day), _clock(at), zone)
    return due
