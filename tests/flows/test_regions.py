"""Roles above one site, through the flows: who is told what. 阳光花园 is in 华东, 翠湖苑 in
华南; 孙区域 manages 华东, 周华南 manages 华南, 郑总部 manages the whole company."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.flows.reminder_sweep import ReminderSweeper
from storage.records import Role
from tests import seeding
from tests.flows.harness import Harness, User
from tests.flows.test_reminders import local, received, run_until

ABOVE = {"孙区域": ("华东", 301), "周华南": ("华南", 302), "郑总部": (None, 303)}


async def above_the_sites(harness: Harness, s: dict[str, Any]) -> dict[str, User]:
    """The regions, and a manager of each region and of the company, bound on Telegram."""
    async with harness.db.transaction() as tx:
        regions = {}
        for name, site in (("华东", s["site"]), ("华南", s["other"])):
            regions[name] = await tx.regions.create(name)
            await tx.sites.set_region(site.id, regions[name].id)
        people = {}
        for name, (region, _) in ABOVE.items():
            people[name] = await tx.people.create(name)
            region_id = regions[region].id if region else None
            await tx.roles.grant(people[name].id, None, Role.MANAGER, region_id=region_id)
        codes = await seeding.invites(tx, people, days=7, prefix="above-")
    users = {}
    for name, (_, uid) in ABOVE.items():
        users[name] = harness.user(uid)
        await users[name].command("start", codes[name])
    return users


async def task_below_regions(harness: Harness) -> tuple[dict[str, Any], dict[str, User]]:
    """The regions and their managers first; then 王检查 finds item 1 of 阳光花园 lacking and
    assigns it to 张三 (escalations are planned for the managers of the site then)."""
    s = await harness.seed()
    users = await above_the_sites(harness, s)
    people = {}
    for name, uid in (("王检查", 101), ("赵经理", 104), ("张三", 102)):
        people[name] = harness.user(uid)
        await people[name].command("start", s["codes"][name])
    inspector = people["王检查"]
    await inspector.command("inspect")
    await inspector.tap("阳光花园")
    await inspector.photo(b"before-photo")
    await inspector.tap("0分")
    await inspector.tap("确认创建")
    return {**s, "manager": people["赵经理"], "responsible": people["张三"]}, users


async def test_welcome_names_the_level_of_each_role(harness: Harness) -> None:
    _, users = await task_below_regions(harness)
    assert "华东区域（所有项目）：经理" in users["孙区域"].chat.messages[0].text
    assert "全公司：经理" in users["郑总部"].chat.messages[0].text


async def test_an_overdue_task_escalates_to_the_managers_of_its_region_and_the_company(
    harness: Harness,
) -> None:
    """Up the default ladder: the site's manager on day 1, the region's on day 3, the
    company's on day 7 overdue; never a manager of another region."""
    s, users = await task_below_regions(harness)
    sweeper = ReminderSweeper(harness.db, harness.clock)
    await run_until(harness, sweeper, local("2026-11-11T10:00"), timedelta(hours=1))
    told = {name: len(received(user, "逾期督办")) for name, user in users.items()}
    assert told == {"孙区域": 0, "周华南": 0, "郑总部": 0}
    assert len(received(s["manager"], "逾期督办")) == 1
    await run_until(harness, sweeper, local("2026-11-17T10:00"), timedelta(hours=1))
    told = {name: len(received(user, "逾期督办")) for name, user in users.items()}
    assert told == {"孙区域": 1, "周华南": 0, "郑总部": 1}
    assert len(received(s["manager"], "逾期督办")) == 1


async def test_an_extension_request_goes_to_every_manager_above_the_site(
    harness: Harness,
) -> None:
    s, users = await task_below_regions(harness)
    responsible = s["responsible"]
    await responsible.tap("申请延期")
    await responsible.tap("+7天")
    await responsible.text("等材料到货")
    asked = {name: bool(received(user, "延期申请")) for name, user in users.items()}
    assert asked == {"孙区域": True, "周华南": False, "郑总部": True}
    await users["孙区域"].tap("批准")
    assert received(responsible, "延期申请已批准（孙区域）")


async def test_a_site_managers_own_extension_goes_to_the_managers_above(
    harness: Harness,
) -> None:
    """张三 is the 责任人 and the site's only 项目经理 (赵经理's manager role revoked): his own
    request goes to the region's and the company's managers (not ext_waiting), and the region
    manager's 批准 decides it."""
    s, users = await task_below_regions(harness)
    async with harness.db.transaction() as tx:
        zhang, zhao = s["people"]["张三"].id, s["people"]["赵经理"].id
        await tx.roles.grant(zhang, s["site"].id, Role.MANAGER)
        await tx.roles.revoke(zhao, s["site"].id, Role.MANAGER)
    responsible = s["responsible"]
    await responsible.tap("申请延期")
    await responsible.tap("+7天")
    await responsible.text("等材料到货")
    assert "等待项目经理审批" in responsible.chat.last.text
    assert not received(responsible, "延期申请 · 整改任务")
    asked = {name: bool(received(user, "延期申请")) for name, user in users.items()}
    assert asked == {"孙区域": True, "周华南": False, "郑总部": True}
    await users["孙区域"].tap("批准")
    assert received(responsible, "延期申请已批准（孙区域）")
    async with harness.db.read() as tx:
        (decided,) = await tx.tasks.extensions(1)
        (region_manager,) = await tx.people.find_by_name("孙区域")
    assert decided.decided_by == region_manager.id
