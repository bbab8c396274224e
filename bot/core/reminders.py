"""When to remind: a pure policy over a task's target date, the site's time zone and quiet hours.

Default (company settings `reminders` and `quiet_hours`, overridable per site): 3 days and 1
day before the 达标时间 and on the day, at 09:00 site time; daily at 09:00 while overdue; the
escalation ladder's rungs (bot.core.ladder) at 09:00 on their day overdue, each once. Nothing
goes out in quiet hours (default 21:00–08:00).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core import ladder
from bot.core.company_settings import CompanySettings
from bot.core.ladder import Level, Rung

BEFORE = "before"
DUE = "due"
OVERDUE = "overdue"


@dataclass(frozen=True)
class ReminderPolicy:
    before_days: tuple[int, ...] = (3, 1)
    at: time = time(9, 0)
    ladder: tuple[Rung, ...] = ladder.DEFAULT_LADDER
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)

    @classmethod
    def from_settings(cls, settings: CompanySettings) -> ReminderPolicy:
        """The settings in force at a site (`bot.core.company_settings.resolve`)."""
        reminders = settings.reminders
        return cls(
            before_days=reminders.before_days,
            at=time.fromisoformat(reminders.at),
            ladder=reminders.ladder,
            quiet_start=time.fromisoformat(settings.quiet_hours[0]),
            quiet_end=time.fromisoformat(settings.quiet_hours[1]),
        )


@dataclass(frozen=True)
class Planned:
    kind: str
    due_at: datetime

    @property
    def rung(self) -> bool:
        """A rung of the ladder: planned without a person, its managers looked up when due."""
        return ladder.level_of(self.kind) is not None


def _at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def next_daily(now: datetime, moment: time, zone: ZoneInfo) -> datetime:
    """The next `moment` (site time) strictly after now."""
    local = now.astimezone(zone)
    candidate = _at(local.date(), moment, zone)
    return candidate if candidate > now else _at(local.date() + timedelta(days=1), moment, zone)


def plan(
    due: date,
    policy: ReminderPolicy,
    timezone: str,
    now: datetime,
    *,
    has_region: bool = True,
    reached: Level | None = None,
) -> list[Planned]:
    """Every reminder a task with this target date needs from now on (not yet the repeats):
    the 责任人's, and the ladder's rungs above the level `reached` already (a rung whose day
    has passed goes out at the next reminder time)."""
    zone = ZoneInfo(timezone)
    planned = [
        Planned(f"{BEFORE}{days}", _at(due - timedelta(days=days), policy.at, zone))
        for days in policy.before_days
    ]
    planned.append(Planned(DUE, _at(due, policy.at, zone)))
    planned = [p for p in planned if p.due_at > now]
    first_overdue = _at(due + timedelta(days=1), policy.at, zone)
    planned.append(Planned(OVERDUE, max(first_overdue, next_daily(now, policy.at, zone))))
    for days, level in ladder.to_climb(policy.ladder, has_region=has_region, reached=reached):
        rung = _at(due + timedelta(days=days), policy.at, zone)
        planned.append(Planned(ladder.kind(level), max(rung, next_daily(now, policy.at, zone))))
    return planned


def following(kind: str, now: datetime, policy: ReminderPolicy, timezone: str) -> Planned | None:
    """The repeat after a reminder went out: daily while overdue (each rung goes out once)."""
    if kind == OVERDUE:
        return Planned(OVERDUE, next_daily(now, policy.at, ZoneInfo(timezone)))
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
