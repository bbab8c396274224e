"""The pure domain pieces: typed dates, scoring and proposals, payloads, reminder policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from bot.core import company_settings, payload
from bot.core.dates import DateError, parse_due_date
from bot.core.reminders import ReminderPolicy, following, plan, quiet_until
from bot.core.scoring import (
    DEFAULT_GRADE_BANDS,
    Mark,
    grade_for,
    progress_bar,
    propose_from_figures,
    propose_from_samples,
    totals,
)
from standards.loader import BUILTIN_DIR, load_file

STANDARD = load_file(BUILTIN_DIR / "community-culture.yaml")
TODAY = date(2026, 11, 27)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-05", date(2026, 12, 5)),
        ("2026/12/5", date(2026, 12, 5)),
        ("2026.12.05", date(2026, 12, 5)),
        ("2026年12月5日", date(2026, 12, 5)),
        ("12月5日", date(2026, 12, 5)),
        ("12月5号", date(2026, 12, 5)),
        ("12-5", date(2026, 12, 5)),
        ("１２月５日", date(2026, 12, 5)),
        ("今天", TODAY),
        ("明天", date(2026, 11, 28)),
        ("后天", date(2026, 11, 29)),
        ("7天后", date(2026, 12, 4)),
        ("+3", date(2026, 11, 30)),
        ("周五", date(2026, 12, 4)),
        ("下周一", date(2026, 11, 30)),
        ("下周五", date(2026, 12, 4)),
    ],
)
def test_due_dates_in_common_forms(text: str, expected: date) -> None:
    assert TODAY.weekday() == 4
    assert parse_due_date(text, TODAY) == expected


@pytest.mark.parametrize("text", ["2026-11-26", "2025-01-01", "昨天见", "abc", "2026-02-30", ""])
def test_bad_or_past_dates_are_refused_in_chinese(text: str) -> None:
    with pytest.raises(DateError) as info:
        parse_due_date(text, TODAY)
    assert "日期" in str(info.value) or "过去" in str(info.value)


@pytest.mark.parametrize(
    ("text", "today", "typed", "next_year"),
    [
        ("12月5日", date(2026, 12, 6), "12月5日", "2027-12-05"),
        ("1月3日", TODAY, "1月3日", "2027-01-03"),
        ("2-29", date(2028, 3, 1), "2月29日", "2029-02-28"),
    ],
)
def test_a_month_and_day_past_this_year_is_refused_with_next_years_date(
    text: str, today: date, typed: str, next_year: str
) -> None:
    with pytest.raises(DateError) as info:
        parse_due_date(text, today)
    assert str(info.value) == (
        f"今年的 {typed} 已经过去。您是指 {next_year} 吗？如果不是，请重新输入日期。"
    )
    assert info.value.proposed is not None
    assert info.value.proposed.isoformat() == next_year
    assert parse_due_date(next_year, today).isoformat() == next_year


def test_totals_exclude_not_applicable_and_grade_bands() -> None:
    marks = {item.no: Mark(score=item.max_score) for item in STANDARD.items}
    marks[1] = Mark(score=0.5)
    marks[2] = Mark(score=None, not_applicable=True)
    result = totals(STANDARD, marks, DEFAULT_GRADE_BANDS)
    assert (result.score, result.applicable_max) == (60.5, 61)
    assert result.sections[0].lost == (1,)
    assert result.grade == "优秀"
    assert grade_for(79.99, DEFAULT_GRADE_BANDS) == "合格"
    assert grade_for(69.9, DEFAULT_GRADE_BANDS) == "待改进"
    assert grade_for(None, DEFAULT_GRADE_BANDS) is None
    assert grade_for(85, ((95, "A"), (85, "B"))) == "B"


def test_proposals_from_samples_and_figures() -> None:
    calls = STANDARD.item(4)
    assert propose_from_samples(calls, 10, 10).score == 1
    assert propose_from_samples(calls, 7, 10).score == 0.5
    assert propose_from_samples(calls, 0, 10).score == 0
    repairs = STANDARD.item(47)
    assert propose_from_figures(repairs, {}) is None
    met = propose_from_figures(repairs, {"零修急修及时率": 100, "返修率": 0.5})
    assert met is not None and met.score == 1
    half = propose_from_figures(repairs, {"零修急修及时率": 100, "返修率": 3})
    assert half is not None and half.score == 0.5
    assert progress_bar(3, 62) == "▰▱▱▱▱▱▱▱▱▱"


def test_payloads_fit_and_reject_forgeries() -> None:
    data = payload.encode("K", "EA", 123456789, 99, 12345)
    assert payload.decode(data) == ["K", "EA", "123456789", "99", "12345"]
    with pytest.raises(payload.PayloadError):
        payload.encode("x" * 30)
    for bad in ("", "a::b", "a:b c", "👍", "a:" * 40):
        with pytest.raises(payload.PayloadError):
            payload.decode(bad)
    with pytest.raises(payload.PayloadError):
        payload.as_int("1e3")


@dataclass(frozen=True)
class OwnValues:
    """A site's own values, as the settings resolver reads them."""

    timezone: str
    quiet_start: str
    quiet_end: str
    settings: dict[str, Any]


def test_reminder_plan_quiet_hours_and_repeats() -> None:
    policy = ReminderPolicy()
    now = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    planned = {p.kind: p.due_at for p in plan(date(2026, 12, 5), policy, "Asia/Shanghai", now)}
    assert planned == {
        "before3": datetime(2026, 12, 2, 1, 0, tzinfo=UTC),
        "before1": datetime(2026, 12, 4, 1, 0, tzinfo=UTC),
        "due": datetime(2026, 12, 5, 1, 0, tzinfo=UTC),
        "overdue": datetime(2026, 12, 6, 1, 0, tzinfo=UTC),
        "escalate:site": datetime(2026, 12, 6, 1, 0, tzinfo=UTC),
        "escalate:region": datetime(2026, 12, 8, 1, 0, tzinfo=UTC),
        "escalate:company": datetime(2026, 12, 12, 1, 0, tzinfo=UTC),
    }
    late = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)
    assert quiet_until(late, policy, "Asia/Shanghai") == datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    assert quiet_until(now, policy, "Asia/Shanghai") is None
    early = ReminderPolicy(at=time(7, 0))
    assert quiet_until(late, early, "Asia/Shanghai") == datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    assert following("escalate:site", now, policy, "Asia/Shanghai") is None
    repeat = following("overdue", datetime(2026, 12, 6, 1, 0, tzinfo=UTC), policy, "Asia/Shanghai")
    assert repeat is not None and repeat.due_at == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    assert following("before3", now, policy, "Asia/Shanghai") is None
    site = OwnValues("Asia/Shanghai", "22:00", "07:00", {"reminders": {"at": "08:30"}})
    company = {"reminders": {"before_days": [5], "at": "10:00"}}
    custom = ReminderPolicy.from_settings(company_settings.resolve(company, site).values)
    assert custom.before_days == (5,)
    assert custom.at == time(8, 30)
    assert custom.quiet_start == time(22, 0)
