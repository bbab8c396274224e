"""Reminders and escalations over a simulated month with a controllable clock."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.flows.reminder_sweep import ReminderSweeper
from tests.flows.harness import Harness, User
from tests.flows.test_tasks import setup_task, task_message

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


async def run_until(
    harness: Harness, sweeper: ReminderSweeper, end: datetime, step: timedelta
) -> None:
    while harness.clock.now + step <= end:
        harness.clock.now += step
        await sweeper.sweep()
        await harness.flush()


def received(user: User, marker: str) -> list[str]:
    return [m.text for m in user.chat.messages if marker in m.text]


@pytest.mark.database_neutral
async def test_a_month_of_reminders_and_escalations(harness: Harness) -> None:
    s = await setup_task(harness)
    sweeper = ReminderSweeper(harness.db, harness.clock)
    stamps: list[tuple[str, str]] = []
    responsible, manager = s["responsible"], s["manager"]
    end = local("2026-12-02T12:00")
    while harness.clock.now < end:
        harness.clock.now += timedelta(hours=1)
        before = (len(responsible.chat.messages), len(manager.chat.messages))
        await sweeper.sweep()
        await harness.flush()
        when = harness.clock.now.astimezone(SHANGHAI).strftime("%m-%d %H:%M")
        if len(responsible.chat.messages) > before[0]:
            stamps.append(("responsible", when))
        if len(manager.chat.messages) > before[1]:
            stamps.append(("manager", when))
    to_responsible = [w for who, w in stamps if who == "responsible"]
    assert to_responsible[:4] == ["11-06 09:00", "11-08 09:00", "11-09 09:00", "11-10 09:00"]
    assert to_responsible[4:] == [f"{d.strftime('%m-%d')} 09:00" for d in _days("11-11", "12-02")]
    # The site's rung of the ladder, once; the site has no region and the company no managers.
    assert [w for who, w in stamps if who == "manager"] == ["11-10 09:00"]
    texts = received(responsible, "整改提醒")
    assert "还有 3 天到期（11-09）" in texts[0]
    assert "明天到期" in texts[1]
    assert "今天到期" in texts[2]
    assert "已逾期 1 天" in texts[3]
    escalations = received(manager, "逾期督办")
    assert "责任人 张三 · 已逾期 1 天 · 督办至项目" in escalations[0]


def _days(first: str, last: str) -> list[datetime]:
    start = datetime.fromisoformat(f"2026-{first}")
    stop = datetime.fromisoformat(f"2026-{last}")
    return [start + timedelta(days=n) for n in range((stop - start).days + 1)]


async def test_restart_after_downtime_merges_and_respects_quiet_hours(harness: Harness) -> None:
    s = await setup_task(harness)
    responsible = s["responsible"]
    first = ReminderSweeper(harness.db, harness.clock)
    await run_until(harness, first, local("2026-11-07T12:00"), timedelta(hours=1))
    assert len(received(responsible, "整改提醒")) == 1
    harness.clock.now = local("2026-11-09T22:30").astimezone(harness.clock.now.tzinfo)
    restarted = ReminderSweeper(harness.db, harness.clock)
    report = await restarted.sweep()
    await harness.flush()
    assert report.sent == 0
    assert report.deferred == 2
    assert len(received(responsible, "整改提醒")) == 1
    await run_until(harness, restarted, local("2026-11-10T08:30"), timedelta(minutes=30))
    assert len(received(responsible, "整改提醒")) == 1
    await run_until(harness, restarted, local("2026-11-10T09:00"), timedelta(minutes=30))
    reminders = received(responsible, "整改提醒")
    assert len(reminders) == 2
    assert reminders[1].count("#1 ") == 1
    assert "已逾期 1 天" in reminders[1]
    async with harness.db.read() as tx:
        rows = await tx.reminders.for_task(1)
    zhang = s["people"]["张三"].id
    sent_kinds = sorted(r.kind for r in rows if r.sent_at is not None and r.person_id == zhang)
    assert sent_kinds == ["before1", "before3", "due", "overdue"]


async def test_completed_task_drops_its_pending_reminders(harness: Harness) -> None:
    s = await setup_task(harness)
    responsible, inspector = s["responsible"], s["inspector"]
    await responsible.press(task_message(responsible).button("已整改"))
    await responsible.photo(b"fixed")
    await responsible.tap("提交复查")
    await inspector.tap("通过")
    sweeper = ReminderSweeper(harness.db, harness.clock)
    await run_until(harness, sweeper, local("2026-11-20T12:00"), timedelta(hours=6))
    assert received(responsible, "整改提醒") == []
    assert received(s["manager"], "逾期督办") == []


async def test_moved_deadline_and_many_tasks_give_one_combined_reminder(
    harness: Harness,
) -> None:
    s = await setup_task(harness)
    inspector, responsible = s["inspector"], s["responsible"]
    for _ in range(2):
        await inspector.tap("0分")
        await inspector.tap("确认创建")
    await responsible.press(task_message(responsible).button("申请延期"))
    await responsible.tap("+3天")
    await responsible.text("材料未到")
    await s["manager"].tap("批准")
    sweeper = ReminderSweeper(harness.db, harness.clock)
    await run_until(harness, sweeper, local("2026-11-06T10:00"), timedelta(hours=1))
    reminders = received(responsible, "整改提醒")
    assert len(reminders) == 1
    assert "您有 2 项整改任务" in reminders[0]
    assert "#2 " in reminders[0] and "#3 " in reminders[0] and "#1 " not in reminders[0]


async def test_two_sweepers_never_send_the_same_reminder_twice(harness: Harness) -> None:
    s = await setup_task(harness)
    harness.clock.now = local("2026-11-06T09:05").astimezone(harness.clock.now.tzinfo)
    a = ReminderSweeper(harness.db, harness.clock)
    b = ReminderSweeper(harness.db, harness.clock)
    reports = await asyncio.gather(a.sweep(), b.sweep())
    await harness.flush()
    assert sum(r.sent for r in reports) == 1
    assert len(received(s["responsible"], "整改提醒")) == 1


async def test_preview_changes_nothing(harness: Harness) -> None:
    s = await setup_task(harness)
    harness.clock.now = local("2026-11-06T09:05").astimezone(harness.clock.now.tzinfo)
    sweeper = ReminderSweeper(harness.db, harness.clock)
    preview = await sweeper.preview()
    assert list(preview.messages.values()) == [["#1 还有 3 天到期（11-09）"]]
    report = await sweeper.sweep()
    await harness.flush()
    assert report.sent == 1
    assert len(received(s["responsible"], "整改提醒")) == 1


async def test_daily_check_replans_tasks_that_lost_their_reminders(harness: Harness) -> None:
    s = await setup_task(harness)
    async with harness.db.transaction() as tx:
        assert await tx.reminders.cancel_for_task(1) > 0
    sweeper = ReminderSweeper(harness.db, harness.clock)
    harness.clock.now = local("2026-11-10T12:00").astimezone(harness.clock.now.tzinfo)
    assert (await sweeper.sweep()).sent == 0
    assert await sweeper.reconcile() > 0
    assert await sweeper.reconcile() == 0
    await run_until(harness, sweeper, local("2026-11-11T09:30"), timedelta(hours=1))
    assert "已逾期 2 天" in received(s["responsible"], "整改提醒")[-1]
    assert received(s["manager"], "逾期督办")
