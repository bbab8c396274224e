"""The escalation ladder's pure rules: which rungs are still to come, at which level."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.core import ladder
from bot.core.ladder import DEFAULT_LADDER, Level
from bot.core.reminders import ReminderPolicy, plan


def test_a_site_in_a_region_climbs_every_rung() -> None:
    assert ladder.to_climb(DEFAULT_LADDER, has_region=True, reached=None) == [
        (1, Level.SITE),
        (3, Level.REGION),
        (7, Level.COMPANY),
    ]


def test_a_site_without_a_region_skips_to_the_company_and_tells_it_once() -> None:
    assert ladder.to_climb(DEFAULT_LADDER, has_region=False, reached=None) == [
        (1, Level.SITE),
        (3, Level.COMPANY),
    ]


def test_rungs_at_or_below_the_level_reached_are_done() -> None:
    assert ladder.to_climb(DEFAULT_LADDER, has_region=True, reached=Level.REGION) == [
        (7, Level.COMPANY)
    ]
    assert ladder.to_climb(DEFAULT_LADDER, has_region=True, reached=Level.COMPANY) == []


def test_a_ladder_climbs() -> None:
    assert ladder.check([(2, Level.SITE), (4, Level.COMPANY)]) == (
        (2, Level.SITE),
        (4, Level.COMPANY),
    )
    with pytest.raises(ValueError, match="empty"):
        ladder.check([])
    for bad in ([(3, Level.SITE), (2, Level.REGION)], [(1, Level.REGION), (2, Level.SITE)]):
        with pytest.raises(ValueError, match="climb"):
            ladder.check(bad)


def test_rung_kinds_name_their_level() -> None:
    assert ladder.kind(Level.REGION) == "escalate:region"
    assert ladder.level_of("escalate:region") is Level.REGION
    assert ladder.level_of("overdue") is None


def test_plan_puts_each_rung_at_the_reminder_time_of_its_day_and_past_ones_next() -> None:
    due = date(2026, 12, 5)
    later = datetime(2026, 12, 9, 2, 0, tzinfo=UTC)
    rungs = {
        p.kind: p.due_at
        for p in plan(due, ReminderPolicy(), "Asia/Shanghai", later, reached=Level.SITE)
        if p.rung
    }
    assert rungs == {
        "escalate:region": datetime(2026, 12, 10, 1, 0, tzinfo=UTC),
        "escalate:company": datetime(2026, 12, 12, 1, 0, tzinfo=UTC),
    }
