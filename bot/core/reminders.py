"""When to remind: a pure policy over a task's target date, the site's time zone and quiet hours.

Default (company settings `reminders` and `quiet_hours`, overridable per site): 3 days and 1
day before the 达标时间 and on the day, at 09:00 site time; daily at 09:00 while overdue;
escalate to the site's managers after one full day overdue and again weekly. Nothing goes out
in quiet hours (default 21:00–08:00).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.company_settings import CompanySettings

BEFORE = "before"
DUE = "due"
OVERDUE = "overdue"
ESCALATE = "escalate"


@dataclass(frozen=True)
class ReminderPolicy:
    before_days: tuple[int, ...] = (3, 1)
    at: time = time(9, 0)
    escalate_after_days: int = 1
    escalate_every_days: int = 7
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)

    @classmethod
    def from_settings(cls, settings: CompanySettings) -> ReminderPolicy:
        """The settings in force at a site (`bot.core.company_settings.resolve`)."""
        reminders = settings.reminders
        return cls(
            before_days=reminders.before_days,
            at=time.fromisoformat(reminders.at),
            escalate_after_days=reminders.escalate_after_days,
            escalate_every_days=reminders.escalate_every_days,
            quiet_start=time.fromisoformat(settings.quiet_hours[0]),
            quiet_end=time.fromisoformat(settings.quiet_hours[1]),
        )


@dataclass(frozen=True)
class Planned:
    kind: str
    due_at: datetime
    to_managers: bool = False


def _at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def next_daily(now: datetime, moment: time, zone: ZoneInfo) -> datetime:
    """The next `moment` (site time) strictly after now."""
    local = now.astimezone(zone)
    candidate = _at(local.date(), moment, zone)
    return candidate if candidate > now else _at(local.date() + timedelta(days=1), moment, zone)


def plan(due: date, policy: ReminderPolicy, timezone: str, now: datetime) -> list[Planned]:
    """Every reminder a task with this target date needs from now on (not yet the repeats)."""
    zone = ZoneInfo(timezone)
    planned = [
        Planned(f"{BEFORE}{days}", _at(due - timedelta(days=days), policy.at, zone))
        for days in policy.before_days
    ]
    planned.append(Planned(DUE, _at(due, policy.at, zone)))
    planned = [p for p in planned if p.due_at > now]
    first_overdue = _at(due + timedelta(days=1), policy.at, zone)
    planned.append(Planned(OVERDUE, max(first_overdue, next_daily(now, policy.at, zone))))
    escalate = _at(due + timedelta(days=1 + policy.escalate_after_days), policy.at, zone)
    planned.append(
        Planned(ESCALATE, max(escalate, next_daily(now, policy.at, zone)), to_managers=True)
    )
    return planned


def following(kind: str, now: datetime, policy: ReminderPolicy, timezone: str) -> Planned | None:
    """The repeat after a reminder went out: daily while overdue, weekly escalation."""
    zone = ZoneInfo(timezone)
    if kind == OVERDUE:
        return Planned(OVERDUE, next_daily(now, policy.at, zone))
    if kind == ESCALATE:
        later = now + timedelta(days=policy.escalate_every_days - 1)
        return Planned(ESCALATE, next_daily(later, policy.at, zone), to_managers=True)
    return None


def in_quiet_hours(moment: time, policy: ReminderPolicy) -> bool:
    start, end = policy.quiet_start, policy.quiet_end
    if start == end:
        return False
    return (start <= moment or moment < end) if start > end else (start <= moment < end)


def quiet_until(now: datetime, policy: ReminderPolicy, timezone: str) -> datetime | None:
    """If `now` is in the site's quiet hours, when to send instead; else None.

    A deferred reminder waits for the next regular reminder time (09:00 by default), so that
    it goes out together with that morning's reminders as one message; if the regular time is
    itself in quiet hours, it waits for the end of them.
    """
    zone = ZoneInfo(timezone)
    if not in_quiet_hours(now.astimezone(zone).time(), policy):
        return None
    moment = policy.quiet_end if in_quiet_hours(policy.at, policy) else policy.at
    return next_daily(now, moment, zone)
