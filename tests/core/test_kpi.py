"""The month a person types, and the periods the KPIs count in."""

from __future__ import annotations

from datetime import date

from bot.core.kpi import Period, TaskFact, overdue_open, parse_month, rate


def test_months_as_typed() -> None:
    for text in ("2026-11", "2026/11", "2026.11", "2026年11月", " 2026-1 "):
        period = parse_month(text)
        assert period is not None
        assert period.first.year == 2026
    assert parse_month("2026年11月") == Period(date(2026, 11, 1), date(2026, 12, 1))
    for text in ("2026-13", "2026-00", "十一月", "", "2026-11-05"):
        assert parse_month(text) is None


def test_december_and_january() -> None:
    december = Period.month(date(2026, 12, 17))
    assert december == Period(date(2026, 12, 1), date(2027, 1, 1))
    assert Period.month(date(2027, 1, 1)).previous() == december
    assert (december.label, december.title) == ("2026-12", "2026年12月")


def test_rates_and_overdue() -> None:
    assert rate(0, 0) is None
    assert rate(2, 3) == 0.6667
    task = TaskFact(
        due=date(2026, 11, 30), done=False, open=True, withdrawn=False, completed_on=None
    )
    november = Period.month(date(2026, 11, 1))
    assert not overdue_open(task, date(2026, 11, 30), november)
    assert overdue_open(task, date(2026, 12, 1), november)
    # A later month's task is not a past month's 逾期未整改.
    assert not overdue_open(task, date(2027, 1, 5), Period.month(date(2026, 10, 1)))
