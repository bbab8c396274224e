"""The escalation ladder (逾期督办) over a simulated month with a controllable clock: each rung
once, at its day overdue, to the managers holding the role at that level when it is reached,
in quiet hours deferred, never resent after a restart or a re-plan, stopped by completion or
withdrawal; a site without a region skips to the company; the task's details show how far up
it went; a rung to the region is posted once into the region's groups. 阳光花园 is in 华东
(孙区域), 翠湖苑 in 华南 (周华南), 郑总部 manages the company; task #1 (张三's) is due 11-09."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.flows import reminding
from bot.flows.reminder_sweep import ReminderSweeper
from storage.records import Channel, GroupKind, Role, TaskEventKind, TaskStatus
from tests import seeding
from tests.flows.harness import Harness, User
from tests.flows.test_group_posts import FOOTER, group_rows
from tests.flows.test_regions import task_below_regions
from tests.flows.test_reminders import SHANGHAI, local, received, run_until
from tests.flows.test_tasks import setup_task, task_message


async def sweep_and_stamp(
    harness: Harness, sweeper: ReminderSweeper, users: dict[str, User], end: datetime
) -> dict[str, list[str]]:
    """Sweep every 30 minutes until `end`; when (site time) each user got a 逾期督办."""
    stamps: dict[str, list[str]] = {name: [] for name in users}
    step = timedelta(minutes=30)
    while harness.clock.now + step <= end:
        harness.clock.now += step
        before = {name: len(received(user, "逾期督办")) for name, user in users.items()}
        await sweeper.sweep()
        await harness.flush()
        when = harness.clock.now.astimezone(SHANGHAI).strftime("%m-%d %H:%M")
        for name, user in users.items():
            stamps[name] += [when] * (len(received(user, "逾期督办")) - before[name])
    return stamps


async def escalations(harness: Harness, task_id: int = 1) -> list[tuple[str, list[int], str]]:
    async with harness.db.read() as tx:
        events = await tx.tasks.events(task_id)
    return [
        (e.data["level"], e.data["to"], e.at.astimezone(SHANGHAI).strftime("%m-%d %H:%M"))
        for e in events
        if e.kind is TaskEventKind.ESCALATED
    ]


async def test_a_month_up_the_ladder_with_quiet_hours_and_a_restart(harness: Harness) -> None:
    """The reminder time 07:30 falls in the quiet hours (21:00–08:00): every rung waits for
    08:00 of its day. A restart and a re-plan between the rungs send nothing again."""
    s, above = await task_below_regions(harness)
    async with harness.db.transaction() as tx:
        await tx.settings.set("reminders", {"at": "07:30"})
        task = await tx.tasks.get(1)
        assert task is not None
        await reminding.replan(tx, task, harness.clock.now)
    users = {"赵经理": s["manager"], **above}
    sweeper = ReminderSweeper(harness.db, harness.clock)
    stamps = await sweep_and_stamp(harness, sweeper, users, local("2026-11-13T12:00"))
    assert stamps == {
        "赵经理": ["11-10 08:00"],
        "孙区域": ["11-12 08:00"],
        "周华南": [],
        "郑总部": [],
    }

    restarted = ReminderSweeper(harness.db, harness.clock)
    async with harness.db.transaction() as tx:
        task = await tx.tasks.get(1)
        assert task is not None
        await reminding.replan(tx, task, harness.clock.now)
        pending = [r.kind for r in await tx.reminders.for_task(1) if r.sent_at is r.cancelled_at]
    assert "escalate:site" not in pending and "escalate:region" not in pending
    assert await restarted.reconcile() == 0
    stamps = await sweep_and_stamp(harness, restarted, users, local("2026-12-02T12:00"))
    assert stamps == {"赵经理": [], "孙区域": [], "周华南": [], "郑总部": ["11-16 08:00"]}

    async with harness.db.read() as tx:
        (sun,) = await tx.people.find_by_name("孙区域")
        (zheng,) = await tx.people.find_by_name("郑总部")
    assert await escalations(harness) == [
        ("site", [s["people"]["赵经理"].id], "11-10 08:00"),
        ("region", [sun.id], "11-12 08:00"),
        ("company", [zheng.id], "11-16 08:00"),
    ]
    (to_region,) = received(above["孙区域"], "逾期督办")
    assert "#1 阳光花园 第1项" in to_region and "已逾期 3 天 · 督办至区域" in to_region

    responsible = s["responsible"]
    await responsible.press(task_message(responsible).button("查看详情"))
    assert "逾期督办：已督办至公司（11-16 08:00）" in responsible.chat.last.text


async def test_the_managers_are_those_holding_the_role_when_the_rung_is_reached(
    harness: Harness,
) -> None:
    """The region's manager changes after the task was created: the new one is told."""
    s, above = await task_below_regions(harness)
    async with harness.db.transaction() as tx:
        (sun,) = await tx.people.find_by_name("孙区域")
        site = await tx.sites.get(s["site"].id)
        assert site is not None
        region = site.region_id
        await tx.roles.revoke(sun.id, None, Role.MANAGER, region_id=region)
        zhou = above["周华南"]
        (zhou_person,) = await tx.people.find_by_name("周华南")
        await tx.roles.grant(zhou_person.id, None, Role.MANAGER, region_id=region)
    sweeper = ReminderSweeper(harness.db, harness.clock)
    await run_until(harness, sweeper, local("2026-11-12T10:00"), timedelta(hours=1))
    assert received(above["孙区域"], "逾期督办") == []
    assert len(received(zhou, "逾期督办")) == 1
    assert [(level, to) for level, to, _ in await escalations(harness)][1] == (
        "region",
        [zhou_person.id],
    )


async def test_a_task_completed_before_a_rung_stops_the_climb(harness: Harness) -> None:
    s, above = await task_below_regions(harness)
    sweeper = ReminderSweeper(harness.db, harness.clock)
    await run_until(harness, sweeper, local("2026-11-11T10:00"), timedelta(hours=1))
    assert len(received(s["manager"], "逾期督办")) == 1
    responsible, inspector = s["responsible"], harness.user(101)
    await responsible.press(task_message(responsible).button("已整改"))
    await responsible.photo(b"fixed")
    await responsible.tap("提交复查")
    await inspector.tap("通过")
    await run_until(harness, sweeper, local("2026-12-02T10:00"), timedelta(hours=6))
    assert all(received(user, "逾期督办") == [] for user in above.values())
    assert [level for level, _, _ in await escalations(harness)] == ["site"]
    async with harness.db.read() as tx:
        task = await tx.tasks.get(1)
        rungs = [r for r in await tx.reminders.for_task(1) if r.person_id is None]
    assert task is not None and task.status is TaskStatus.DONE
    assert all(r.sent_at is not None or r.cancelled_at is not None for r in rungs)


async def test_a_withdrawn_task_never_escalates(harness: Harness) -> None:
    s, above = await task_below_regions(harness)
    inspector = harness.user(101)
    await inspector.tap("上一项")
    await inspector.tap("1分")
    async with harness.db.read() as tx:
        task = await tx.tasks.get(1)
    assert task is not None and task.status is TaskStatus.WITHDRAWN
    sweeper = ReminderSweeper(harness.db, harness.clock)
    await run_until(harness, sweeper, local("2026-12-02T10:00"), timedelta(hours=6))
    assert all(received(user, "逾期督办") == [] for user in [s["manager"], *above.values()])
    assert await escalations(harness) == []


async def test_a_site_without_a_region_skips_to_the_company_once(harness: Harness) -> None:
    s = await setup_task(harness)
    async with harness.db.transaction() as tx:
        zheng = await tx.people.create("郑总部")
        await tx.roles.grant(zheng.id, None, Role.MANAGER)
        codes = await seeding.invites(tx, {"郑总部": zheng}, days=7, prefix="top-")
    company = harness.user(303)
    await company.command("start", codes["郑总部"])
    sweeper = ReminderSweeper(harness.db, harness.clock)
    users = {"赵经理": s["manager"], "郑总部": company}
    stamps = await sweep_and_stamp(harness, sweeper, users, local("2026-11-20T10:00"))
    assert stamps == {"赵经理": ["11-10 09:00"], "郑总部": ["11-12 09:00"]}
    assert "已逾期 3 天 · 督办至公司" in received(company, "逾期督办")[0]
    assert [level for level, _, _ in await escalations(harness)] == ["site", "company"]
    responsible = s["responsible"]
    await responsible.press(task_message(responsible).button("查看详情"))
    assert "逾期督办：已督办至公司（11-12 09:00）" in responsible.chat.last.text


async def test_a_manager_who_is_also_the_responsible_gets_one_message_a_morning(
    harness: Harness,
) -> None:
    s = await setup_task(harness)
    async with harness.db.transaction() as tx:
        await tx.roles.grant(s["people"]["张三"].id, s["site"].id, Role.MANAGER)
    responsible = s["responsible"]
    sweeper = ReminderSweeper(harness.db, harness.clock)
    await run_until(harness, sweeper, local("2026-11-09T12:00"), timedelta(hours=1))
    before = len(responsible.chat.messages)
    await run_until(harness, sweeper, local("2026-11-10T12:00"), timedelta(hours=1))
    (morning,) = [m.text for m in responsible.chat.messages[before:]]
    assert "整改提醒" in morning and "已逾期 1 天（11-09）" in morning
    assert "逾期督办" in morning and "督办至项目" in morning


async def test_details_show_the_ladder_state_and_a_level_without_managers(
    harness: Harness,
) -> None:
    """Nothing before the first rung; the company's rung of a region-less site is reached on
    day 3 even with nobody to tell (and says so)."""
    s = await setup_task(harness)
    responsible, manager = s["responsible"], s["manager"]
    await responsible.press(task_message(responsible).button("查看详情"))
    assert "整改任务 #1" in responsible.chat.last.text
    assert "逾期督办：" not in responsible.chat.last.text
    sweeper = ReminderSweeper(harness.db, harness.clock)
    await run_until(harness, sweeper, local("2026-11-10T10:00"), timedelta(hours=1))
    await manager.press(task_message(responsible).button("查看详情"))
    assert "逾期督办：已督办至项目（11-10 09:00）" in manager.chat.last.text
    await run_until(harness, sweeper, local("2026-11-13T10:00"), timedelta(hours=1))
    await responsible.press(task_message(responsible).button("查看详情"))
    assert "逾期督办：已督办至公司（11-12 09:00，该级暂无经理）" in responsible.chat.last.text
    assert [(level, to) for level, to, _ in await escalations(harness)] == [
        ("site", [s["people"]["赵经理"].id]),
        ("company", []),
    ]


async def test_a_rung_to_the_region_is_posted_once_in_the_regions_groups(
    harness: Harness,
) -> None:
    """Two tasks reach the region in one sweep: the region's Telegram group and WeCom robot
    get one post listing both, 张三 @-mentioned (李四, unbound, named); the
    other region's group and the site's group get none; the company rung, a restart and a
    re-plan post nothing more."""
    s, _ = await task_below_regions(harness)
    async with harness.db.transaction() as tx:
        site = await tx.sites.get(s["site"].id)
        other = await tx.sites.get(s["other"].id)
        assert site is not None and other is not None
        assert site.region_id is not None and other.region_id is not None
        await tx.groups.add(GroupKind.TELEGRAM, region_id=site.region_id, chat_id="-1001")
        robot = await tx.groups.add(GroupKind.WECOM, region_id=site.region_id, webhook_key="k")
        await tx.groups.add(GroupKind.TELEGRAM, region_id=other.region_id, chat_id="-1002")
        await tx.groups.add(GroupKind.TELEGRAM, site_id=site.id, chat_id="-1003")
        await tx.people.update(s["people"]["张三"].id, phone="13900000000")
        first = await tx.tasks.get(1)
        assert first is not None
        second = await tx.tasks.create(
            site.id,
            "灯不亮",
            created_by=s["people"]["王检查"].id,
            due_date=first.due_date,
            responsible_person_id=s["people"]["李四"].id,
        )
        await reminding.replan(tx, second, harness.clock.now)
    sweeper = ReminderSweeper(harness.db, harness.clock)
    await run_until(harness, sweeper, local("2026-11-11T10:00"), timedelta(hours=1))
    assert await group_rows(harness, Channel.TELEGRAM, "-1001") == []  # the site rung: none
    await run_until(harness, sweeper, local("2026-11-12T10:00"), timedelta(hours=1))
    (row,) = await group_rows(harness, Channel.TELEGRAM, "-1001")
    text = row.payload["text"]
    assert text.startswith("<b>逾期督办至区域：华东</b>（共 2 项）")  # both rungs, one post
    assert '· 阳光花园 第 1 项 #1 · 责任人：<a href="tg://user?id=102">张三</a>' in text
    assert f"· 阳光花园 #{second.id} · 责任人：李四 · 已逾期 3 天" in text
    assert "已逾期 3 天" in text and text.endswith(FOOTER)
    assert row.payload["buttons"] == []
    (wecom,) = await group_rows(harness, Channel.WECOM_GROUP, f"g{robot.id}")
    assert wecom.payload["mentioned_mobile_list"] == ["13900000000"]
    assert "责任人：张三" in wecom.payload["text"]
    assert await group_rows(harness, Channel.TELEGRAM, "-1002") == []
    assert await group_rows(harness, Channel.TELEGRAM, "-1003") == []

    restarted = ReminderSweeper(harness.db, harness.clock)
    async with harness.db.transaction() as tx:
        task = await tx.tasks.get(1)
        assert task is not None
        await reminding.replan(tx, task, harness.clock.now)
    await restarted.reconcile()
    await run_until(harness, restarted, local("2026-12-02T10:00"), timedelta(hours=6))
    assert [level for level, _, _ in await escalations(harness)] == ["site", "region", "company"]
    assert len(await group_rows(harness, Channel.TELEGRAM, "-1001")) == 1
    assert len(await group_rows(harness, Channel.WECOM_GROUP, f"g{robot.id}")) == 1


async def test_no_region_group_or_the_setting_off_posts_nothing(harness: Harness) -> None:
    """Without a group of its own the region gets no post (the site's group neither); with
    `group_posts.region_escalations` off, a group the region has gets none; the managers are
    told either way."""
    s, above = await task_below_regions(harness)
    async with harness.db.transaction() as tx:
        await tx.groups.add(GroupKind.TELEGRAM, site_id=s["site"].id, chat_id="-1003")
    sweeper = ReminderSweeper(harness.db, harness.clock)
    await run_until(harness, sweeper, local("2026-11-12T10:00"), timedelta(hours=1))
    assert len(received(above["孙区域"], "逾期督办")) == 1
    assert await group_rows(harness, Channel.TELEGRAM, "-1003") == []

    async with harness.db.transaction() as tx:
        site = await tx.sites.get(s["site"].id)
        assert site is not None and site.region_id is not None
        await tx.groups.add(GroupKind.TELEGRAM, region_id=site.region_id, chat_id="-1001")
        await tx.settings.set("group_posts", {"region_escalations": False})
        task = await tx.tasks.create(
            site.id,
            "灯不亮",
            created_by=s["people"]["王检查"].id,
            due_date=harness.clock.now.date() - timedelta(days=1),
            responsible_person_id=s["people"]["张三"].id,
        )
        await reminding.replan(tx, task, harness.clock.now)
    await run_until(harness, sweeper, local("2026-11-16T10:00"), timedelta(hours=1))
    assert "region" in [level for level, _, _ in await escalations(harness, task.id)]
    assert await group_rows(harness, Channel.TELEGRAM, "-1001") == []
