"""The demo company: on an empty database, people and sites to try the web chat with at once.

Two regions of two sites each; at 阳光花园 an inspector, two responsible staff and a manager;
a manager of the region 华东 and a company-wide (品质部) inspector; each person with a
personal web link; the built-in standard is used as it is. `pinjian demo` (bot/cli/demo_cmd.py)
adds inspection plans (:func:`seed_demo_plans`): a 周检 at every site and a monthly 交叉检查, so
the plans' notices arrive in the chats, and writes the previous months' history
(bot/demo_history.py: inspections and tasks fixed on time, late or not at all) so that the
KPIs and the monthly 通报 have something to show. On a database that already has people or
sites it changes nothing (so `make run` can call it every time).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.handlers.web.links import issue_login
from storage.db import Tx
from storage.records import PlanEvery, PlanKind, Role

DEMO_SITE = "阳光花园"
DEMO_REGIONS = (("华东", (DEMO_SITE, "翠湖苑")), ("华南", ("金色家园", "碧水湾")))
DEMO_PEOPLE = (
    ("王检查", Role.INSPECTOR),
    ("张三", Role.RESPONSIBLE),
    ("李四", Role.RESPONSIBLE),
    ("赵经理", Role.MANAGER),
)
DEMO_REGION_MANAGER = ("孙区域", "华东")
DEMO_QUALITY_INSPECTOR = "钱品质"
# 翠湖苑 is cross-inspected monthly (20th–28th) by 阳光花园's inspector.
DEMO_CROSS_SITE = "翠湖苑"


@dataclass(frozen=True)
class DemoLogin:
    name: str
    role: Role
    token: str
    where: str = ""
    """Where a role above one site is held: a region's name, or 全公司."""


async def seed_demo(tx: Tx, timezone: str) -> list[DemoLogin] | None:
    """Create the demo company and a web login per person; None if the database has data."""
    if await tx.sites.all(include_inactive=True) or await tx.people.all(include_inactive=True):
        return None
    regions = {}
    for region_name, site_names in DEMO_REGIONS:
        region = regions[region_name] = await tx.regions.create(region_name)
        for name in site_names:
            await tx.sites.create(
                name, timezone=timezone, address="演示数据 demo", region_id=region.id
            )
    site = await tx.sites.by_name(DEMO_SITE)
    assert site is not None
    logins = []
    for name, role in DEMO_PEOPLE:
        person = await tx.people.create(name)
        await tx.roles.grant(person.id, site.id, role)
        logins.append(DemoLogin(name, role, await issue_login(tx, person)))
    name, region_name = DEMO_REGION_MANAGER
    person = await tx.people.create(name)
    await tx.roles.grant(person.id, None, Role.MANAGER, region_id=regions[region_name].id)
    logins.append(
        DemoLogin(name, Role.MANAGER, await issue_login(tx, person), f"{region_name}区域")
    )
    person = await tx.people.create(DEMO_QUALITY_INSPECTOR)
    await tx.roles.grant(person.id, None, Role.INSPECTOR)
    token = await issue_login(tx, person)
    logins.append(DemoLogin(DEMO_QUALITY_INSPECTOR, Role.INSPECTOR, token, "全公司·品质部"))
    await tx.audit.record("cli", "demo.seed", target=f"site:{site.id}")
    return logins


async def seed_demo_plans(tx: Tx, std_id: str) -> int:
    """The demo's plans: a 周检 at every site, all week long so that its notice comes at once
    (王检查 at 阳光花园, 钱品质 of 品质部 elsewhere), and a monthly 交叉检查 of 翠湖苑 by
    王检查; returns how many plans were made."""
    inspector = (await tx.people.find_by_name(DEMO_PEOPLE[0][0]))[0]
    quality = (await tx.people.find_by_name(DEMO_QUALITY_INSPECTOR))[0]
    made = 0
    for site in await tx.sites.all():
        assignee = inspector if site.name == DEMO_SITE else quality
        await tx.plans.create(
            site_id=site.id,
            region_id=None,
            std_id=std_id,
            every=PlanEvery.WEEK,
            window_from=1,
            window_to=7,
            kind=PlanKind.SELF,
            inspector_ids=[assignee.id],
        )
        made += 1
    cross = await tx.sites.by_name(DEMO_CROSS_SITE)
    assert cross is not None
    await tx.roles.grant(inspector.id, cross.id, Role.INSPECTOR)
    await tx.plans.create(
        site_id=cross.id,
        region_id=None,
        std_id=std_id,
        every=PlanEvery.MONTH,
        window_from=20,
        window_to=28,
        kind=PlanKind.CROSS,
        inspector_ids=[inspector.id],
    )
    return made + 1


async def demo_inspectors(tx: Tx) -> dict[str, int]:
    """Who inspects each demo site: 王检查 阳光花园, 钱品质 of 品质部 the others."""
    inspector = (await tx.people.find_by_name(DEMO_PEOPLE[0][0]))[0]
    quality = (await tx.people.find_by_name(DEMO_QUALITY_INSPECTOR))[0]
    return {
        site.name: (inspector if site.name == DEMO_SITE else quality).id
        for site in await tx.sites.all()
    }
