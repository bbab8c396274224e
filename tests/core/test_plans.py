"""Plan periods, windows and occurrence statuses."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.core.plans import (
    OccurrenceStatus,
    WindowError,
    check_window,
    current_window,
    next_period,
    period_start,
    status,
    window,
)
from storage.records import InspectionStatus, PlanEvery


def test_periods_start_on_monday_the_first_and_the_quarter() -> None:
    assert period_start(date(2026, 11, 5), PlanEvery.WEEK) == date(2026, 11, 2)
    assert period_start(date(2026, 11, 30), PlanEvery.MONTH) == date(2026, 11, 1)
    assert period_start(date(2026, 11, 30), PlanEvery.QUARTER) == date(2026, 10, 1)
    assert next_period(date(2026, 12, 1), PlanEvery.MONTH) == date(2027, 1, 1)
    assert next_period(date(2026, 10, 1), PlanEvery.QUARTER) == date(2027, 1, 1)
    assert next_period(date(2026, 12, 28), PlanEvery.WEEK) == date(2027, 1, 4)


def test_window_is_whole_local_days_in_utc() -> None:
    w = window(date(2026, 11, 2), PlanEvery.WEEK, 1, 5, "Asia/Shanghai")
    assert (w.first_day, w.last_day) == (date(2026, 11, 2), date(2026, 11, 6))
    assert w.start == datetime(2026, 11, 1, 16, 0, tzinfo=UTC)
    assert w.end == datetime(2026, 11, 6, 16, 0, tzinfo=UTC)
    urumqi = window(date(2026, 11, 2), PlanEvery.WEEK, 1, 5, "Asia/Urumqi")
    assert urumqi.start == datetime(2026, 11, 1, 18, 0, tzinfo=UTC)


def test_month_window_days_past_the_end_mean_the_last_day() -> None:
    w = window(date(2027, 2, 1), PlanEvery.MONTH, 20, 31, "Asia/Shanghai")
    assert (w.first_day, w.last_day) == (date(2027, 2, 20), date(2027, 2, 28))
    q = window(date(2026, 10, 1), PlanEvery.QUARTER, 80, 92, "Asia/Shanghai")
    assert (q.first_day, q.last_day) == (date(2026, 12, 19), date(2026, 12, 31))


def test_current_window_follows_the_site_day() -> None:
    # Sunday 17:00 UTC is already Monday in Shanghai.
    now = datetime(2026, 11, 8, 17, 0, tzinfo=UTC)
    assert current_window(now, PlanEvery.WEEK, 1, 7, "Asia/Shanghai").period_start == date(
        2026, 11, 9
    )
    assert current_window(now, PlanEvery.WEEK, 1, 7, "UTC").period_start == date(2026, 11, 2)


def test_windows_are_checked() -> None:
    assert check_window(PlanEvery.WEEK, None, None) == (1, 7)
    assert check_window(PlanEvery.MONTH, 20, None) == (20, 31)
    for every, first, last in (
        (PlanEvery.MONTH, 28, 20),
        (PlanEvery.WEEK, 1, 8),
        (PlanEvery.QUARTER, 0, 5),
    ):
        with pytest.raises(WindowError):
            check_window(every, first, last)


@pytest.mark.parametrize(
    ("now_day", "inspection", "completed_day", "expected"),
    [
        (3, None, None, OccurrenceStatus.NOT_STARTED),
        (9, None, None, OccurrenceStatus.MISSED),
        (9, InspectionStatus.CANCELLED, None, OccurrenceStatus.MISSED),
        (4, InspectionStatus.PAUSED, None, OccurrenceStatus.IN_PROGRESS),
        (9, InspectionStatus.IN_PROGRESS, None, OccurrenceStatus.IN_PROGRESS),
        (9, InspectionStatus.COMPLETED, 5, OccurrenceStatus.DONE),
        (9, InspectionStatus.COMPLETED, 8, OccurrenceStatus.DONE_LATE),
    ],
)
def test_status(
    now_day: int,
    inspection: InspectionStatus | None,
    completed_day: int | None,
    expected: OccurrenceStatus,
) -> None:
    end = datetime(2026, 11, 7, tzinfo=UTC)
    now = datetime(2026, 11, now_day, tzinfo=UTC)
    completed = datetime(2026, 11, completed_day, tzinfo=UTC) if completed_day else None
    assert status(now, end, inspection, completed) is expected
