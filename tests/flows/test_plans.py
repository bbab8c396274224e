"""Inspection plans over a simulated quarter on the flows harness: occurrences open, remind
and close in each site's time zone and outside quiet hours, exactly once (also after a
restart), a removed plan stops, an inspection that could fulfil two occurrences asks which,
and a cross-inspection by a person from another site."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.core.texts import render
from bot.flows.catalog import StandardsCatalog
from bot.plan_notices import PlanSweeper
from storage.db import Database
from storage.records import PlanEvery, PlanKind, Role
from tests.flows.harness import Harness, User

SHANGHAI = ZoneInfo("Asia/Shanghai")
URUMQI = ZoneInfo("Asia/Urumqi")
STD = "community-culture"


def local(text: str, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


async def add_plan(harness: Harness, **values: Any) -> int:
    defaults: dict[str, Any] = {
        "site_id": None,
        "region_id": None,
        "std_id": STD,
        "every": PlanEvery.WEEK,
        "window_from": 1,
        "window_to": 5,
        "kind": PlanKind.SELF,
    }
    async with harness.db.transaction() as tx:
        plan = await tx.plans.create(**(defaults | values))
    return plan.id


def sweeper(harness: Harness) -> PlanSweeper:
    return PlanSweeper(harness.db, harness.clock, StandardsCatalog.load(None))


async def bound(harness: Harness, seeded: dict[str, Any], name: str, user_id: int) -> User:
    user = harness.user(user_id)
    await user.command("start", seeded["codes"][name])
    return user


async def complete(harness: Harness, inspection_id: int) -> None:
    async with harness.db.transaction() as tx:
        await tx.inspections.complete(inspection_id, score=1, max_score=1)


async def occurrence_of(harness: Harness, inspection_id: int) -> Any:
    async with harness.db.read() as tx:
        return await tx.occurrences.for_inspection(inspection_id)


async def open_inspection(harness: Harness, person_id: int) -> Any:
    async with harness.db.read() as tx:
        [inspection] = await tx.inspections.open_for_inspector(person_id)
    return inspection


@pytest.mark.database_neutral
async def test_a_quarter_of_weekly_plans(harness: Harness) -> None:
    seeded = await harness.seed()
    people = seeded["people"]
    async with harness.db.transaction() as tx:
        region = await tx.regions.create("华东")
        for site in (seeded["site"], seeded["other"]):
            await tx.sites.set_region(site.id, region.id)
        await tx.sites.update(seeded["other"].id, timezone="Asia/Urumqi")
        await tx.roles.grant(people["王检查"].id, None, Role.INSPECTOR, region_id=region.id)
        await tx.roles.grant(people["赵经理"].id, None, Role.MANAGER, region_id=region.id)
    inspector = await bound(harness, seeded, "王检查", 101)
    manager = await bound(harness, seeded, "赵经理", 104)
    await add_plan(harness, region_id=region.id, inspector_ids=[people["王检查"].id])
    plans = sweeper(harness)
    seen: dict[str, list[str]] = {"inspector": [], "manager": []}
    end = local("2027-02-01T00:00")
    while harness.clock.now < end:
        before = {"inspector": len(inspector.chat.messages), "manager": len(manager.chat.messages)}
        await plans.sweep()
        await harness.flush()
        for who, user in (("inspector", inspector), ("manager", manager)):
            for message in user.chat.messages[before[who] :]:
                when = harness.clock.now.astimezone(SHANGHAI)
                first_line = message.text.splitlines()[0]
                site = "翠湖苑" if "翠湖苑" in message.text else "阳光花园"
                title = first_line.split("<b>")[1].split("</b>")[0]
                seen[who].append(f"{when:%m-%d %a %H:%M} {site} {title}")
        local_now = harness.clock.now.astimezone(SHANGHAI)
        if local_now.date() == local("2026-11-03").date() and local_now.hour == 10:
            # Week 1 at 阳光花园: started from the notice's button, submitted in the window.
            notice = next(m for m in inspector.chat.messages if "阳光花园 · " in m.text)
            await inspector.press(notice.button("开始检查"))
            inspection = await open_inspection(harness, people["王检查"].id)
            assert (await occurrence_of(harness, inspection.id)) is not None
            await complete(harness, inspection.id)
        if local_now.date() == local("2026-11-18").date() and local_now.hour == 12:
            # The bot restarts inside week 3's window: nothing goes out twice.
            await harness.db.close()
            harness.db = Database(harness.url, clock=harness.clock, files=harness.files)
            await harness.db.open()
            harness.engine.db = harness.worker.db = harness.web_worker.db = harness.db
            plans = sweeper(harness)
        harness.clock.advance(hours=1)

    opened = [s for s in seen["inspector"] if "计划检查开始" in s]
    # 12 Mondays from 11-09 to 01-25, plus the plan's first week; two sites each.
    assert len(opened) == 2 * 12 + 2
    assert opened[:2] == [
        "11-02 Mon 10:00 阳光花园 计划检查开始",
        "11-02 Mon 10:00 翠湖苑 计划检查开始",
    ]
    # Windows open at 00:00 site time, in quiet hours: the notice waits until 08:00 there
    # (08:00 in Urumqi is 10:00 in Shanghai). So do the reminders and the 漏检 notes.
    for stamp in opened[2:] + seen["inspector"][2:] + seen["manager"]:
        assert stamp.split()[2] == ("08:00" if "阳光花园" in stamp else "10:00"), stamp
    assert {s.split()[1] for s in opened[2:]} == {"Mon"}
    reminded = [s for s in seen["inspector"] if "计划检查提醒" in s]
    # Week 1 at 阳光花园 was started: no reminder, no 漏检; every other week and site one each.
    assert reminded[:3] == [
        "11-06 Fri 10:00 翠湖苑 计划检查提醒",
        "11-13 Fri 08:00 阳光花园 计划检查提醒",
        "11-13 Fri 10:00 翠湖苑 计划检查提醒",
    ]
    assert len(reminded) == len(set(reminded)) == 2 * 13 - 1
    missed = [s for s in seen["manager"] if "漏检" in s]
    assert missed[:2] == ["11-07 Sat 10:00 翠湖苑 漏检", "11-14 Sat 08:00 阳光花园 漏检"]
    assert len(missed) == len(set(missed)) == 2 * 13 - 1
    assert len(opened) == len(set(opened))
    await plans.sweep()
    await manager.command("plans")
    # Still Sunday in Urumqi: 翠湖苑's week is the one that closed with 漏检.
    assert "周检 02-01–02-05 阳光花园 · 物业服务品质检查标准——社区文化管理：未开始" in (
        manager.chat.last.text
    )
    assert "周检 01-25–01-29 翠湖苑 · 物业服务品质检查标准——社区文化管理：漏检" in (
        manager.chat.last.text
    )


async def test_a_plan_removed_mid_period_stops(harness: Harness) -> None:
    seeded = await harness.seed()
    people = seeded["people"]
    inspector = await bound(harness, seeded, "王检查", 101)
    manager = await bound(harness, seeded, "赵经理", 104)
    plan_id = await add_plan(
        harness,
        site_id=seeded["site"].id,
        every=PlanEvery.MONTH,
        window_from=1,
        window_to=20,
        inspector_ids=[people["王检查"].id],
    )
    plans = sweeper(harness)
    await plans.sweep()
    await harness.flush()
    assert "计划检查开始" in inspector.chat.last.text
    harness.clock.now = local("2026-11-10T10:00")
    async with harness.db.transaction() as tx:
        assert await tx.plans.remove(plan_id) == 1
    while harness.clock.now < local("2026-12-25T10:00"):
        harness.clock.advance(hours=6)
        await plans.sweep()
        await harness.flush()
    assert [m.text for m in inspector.chat.messages if "计划检查" in m.text][1:] == []
    assert not any("漏检" in m.text for m in manager.chat.messages)
    await inspector.press(inspector.chat.messages[-1].button("开始检查"))
    assert inspector.chat.toasts[-1][0].startswith("这次计划检查的时间窗口已结束或计划已停止")


async def test_an_inspection_that_matches_two_occurrences_asks_which(harness: Harness) -> None:
    seeded = await harness.seed()
    people = seeded["people"]
    inspector = await bound(harness, seeded, "王检查", 101)
    site = seeded["site"].id
    ids = [people["王检查"].id]
    await add_plan(harness, site_id=site, inspector_ids=ids)
    await add_plan(harness, site_id=site, every=PlanEvery.MONTH, window_to=28, inspector_ids=ids)
    await sweeper(harness).sweep()
    await harness.flush()
    await inspector.command("inspect")
    await inspector.tap("阳光花园")
    asked = inspector.chat.with_buttons()
    assert "计入哪一个" in asked.text
    assert asked.labels == ["周检 11-02–11-06 阳光花园", "月检 11-01–11-28 阳光花园", "不计入计划"]
    await inspector.tap("月检")
    inspection = await open_inspection(harness, people["王检查"].id)
    occurrence = await occurrence_of(harness, inspection.id)
    async with harness.db.read() as tx:
        [left] = await tx.occurrences.candidates(site, STD, people["王检查"].id, harness.clock())
        plan = await tx.plans.get(occurrence.plan_id)
    assert plan is not None and plan.every is PlanEvery.MONTH
    assert left.id != occurrence.id
    await inspector.press(asked.button("周检"))
    assert inspector.chat.toasts[-1] == (render("stale_button"), True)


async def test_a_cross_inspection_by_a_person_from_another_site(harness: Harness) -> None:
    seeded = await harness.seed()
    people = seeded["people"]
    async with harness.db.transaction() as tx:
        await tx.roles.grant(people["钱其他"].id, seeded["site"].id, Role.INSPECTOR)
    outsider = await bound(harness, seeded, "钱其他", 105)
    inspector = await bound(harness, seeded, "王检查", 101)
    await add_plan(
        harness,
        site_id=seeded["site"].id,
        every=PlanEvery.MONTH,
        window_to=28,
        kind=PlanKind.CROSS,
        inspector_ids=[people["钱其他"].id],
    )
    await sweeper(harness).sweep()
    await harness.flush()
    notice = outsider.chat.last
    assert "计划检查开始" in notice.text and "交叉检查" in notice.text
    assert not any("计划检查" in m.text for m in inspector.chat.messages)
    await inspector.press(notice.button("开始检查"))
    assert inspector.chat.toasts[-1] == ("您没有权限进行这个操作。", True)
    await outsider.press(notice.button("开始检查"))
    inspection = await open_inspection(harness, people["钱其他"].id)
    assert inspection.site_id == seeded["site"].id
    assert (await occurrence_of(harness, inspection.id)) is not None
    await outsider.press(notice.button("开始检查"))
    assert "已由其他检查开始" in outsider.chat.toasts[-1][0]
    await complete(harness, inspection.id)
    await outsider.command("plans")
    assert "月检 11-01–11-28 阳光花园" in outsider.chat.last.text
    assert "已完成" in outsider.chat.last.text


async def test_an_inspection_open_past_the_window_is_reported_late_then_done_late(
    harness: Harness,
) -> None:
    seeded = await harness.seed()
    people = seeded["people"]
    inspector = await bound(harness, seeded, "王检查", 101)
    manager = await bound(harness, seeded, "赵经理", 104)
    await add_plan(harness, site_id=seeded["site"].id, inspector_ids=[people["王检查"].id])
    plans = sweeper(harness)
    await plans.sweep()
    await harness.flush()
    await inspector.command("inspect")
    await inspector.tap("阳光花园")
    inspection = await open_inspection(harness, people["王检查"].id)
    assert (await occurrence_of(harness, inspection.id)) is not None
    while harness.clock.now < local("2026-11-09T12:00"):
        harness.clock.advance(hours=1)
        await plans.sweep()
        await harness.flush()
    assert not any("计划检查提醒" in m.text for m in inspector.chat.messages)
    assert not any("漏检" in m.text for m in manager.chat.messages)
    [late] = [m.text for m in manager.chat.messages if "超出时间窗口" in m.text]
    assert "周检 11-02–11-06 阳光花园" in late and "检查员 王检查" in late
    await complete(harness, inspection.id)
    await manager.command("plans")
    assert "周检 11-09–11-13 阳光花园" in manager.chat.last.text
    async with harness.db.read() as tx:
        occurrence = await tx.occurrences.for_inspection(inspection.id)
        done = await tx.inspections.get(inspection.id)
    assert occurrence is not None and done is not None
    assert occurrence.closed_at == local("2026-11-07T08:00")


async def test_two_processes_send_each_notice_once(harness: Harness) -> None:
    seeded = await harness.seed()
    people = seeded["people"]
    inspector = await bound(harness, seeded, "王检查", 101)
    manager = await bound(harness, seeded, "赵经理", 104)
    await add_plan(harness, site_id=seeded["site"].id, inspector_ids=[people["王检查"].id])
    second = Database(harness.url, clock=harness.clock, files=harness.files)
    await second.open()
    try:
        both = (sweeper(harness), PlanSweeper(second, harness.clock, StandardsCatalog.load(None)))
        while harness.clock.now < local("2026-11-07T12:00"):
            harness.clock.advance(hours=1)
            await asyncio.gather(*(s.sweep() for s in both))
            await harness.flush()
    finally:
        await second.close()
    texts = [m.text for m in inspector.chat.messages] + [m.text for m in manager.chat.messages]
    assert [
        sum(marker in t for t in texts) for marker in ("计划检查开始", "计划检查提醒", "漏检")
    ] == [
        1,
        1,
        1,
    ]
