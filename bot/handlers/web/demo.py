"""`pinjian demo`: on an empty database, a demo company to try the web chat with at once.

Two regions of two sites each; at 阳光花园 an inspector, two responsible staff and a manager;
a manager of the region 华东 and a company-wide (品质部) inspector; each person with a
personal web link; the built-in standard is used as it is. `pinjian demo` adds inspection
plans (:func:`seed_demo_plans`): a 周检 at every site and a monthly 交叉检查, so the plans'
notices arrive in the chats, and writes the previous months' history
(bot/handlers/web/demo_history.py: inspections and tasks fixed on time, late or not at all)
so that the KPIs and the monthly 通报 have something to show. On a database that already has
people or sites it changes nothing (so `make run` can call it every time) and says how to
get links instead.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.cli.common import SubParsers
from bot.cli.dbctx import run_with_db
from bot.config import Settings
from bot.core.kpi import Period
from bot.flows.access import ROLE_NAMES
from bot.flows.catalog import StandardsCatalog
from bot.handlers.web.demo_history import MONTHS, seed_demo_history
from bot.handlers.web.links import chat_url, issue_login, login_link
from storage.base import utc_now
from storage.db import Database, Tx
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


def register(commands: SubParsers) -> None:
    demo = commands.add_parser(
        "demo",
        help="空数据库时创建演示公司并打印每人的网页链接 (seed a demo on an empty database)",
        description=(
            "数据库为空时，创建演示公司：华东区域（阳光花园、翠湖苑）和华南区域（金色家园、碧水湾）；"
            "阳光花园的检查员 王检查、责任人 张三 和 李四、经理 赵经理，华东区域经理 孙区域，"
            "全公司（品质部）检查员 钱品质；每个项目的周检，翠湖苑每月 20–28 日的交叉检查"
            "（王检查）；前两个月的检查与整改记录（供统计和月度通报）；"
            "并为每人打印网页聊天的专属链接。已有数据时什么也不改。"
        ),
    )
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    async def work(db: Database, settings: Settings) -> tuple[list[DemoLogin] | None, Settings]:
        standards = StandardsCatalog.load(settings.data_dir).available()
        async with db.transaction() as tx:
            logins = await seed_demo(tx, settings.timezone)
            if logins is None or not standards:
                return logins, settings
            await seed_demo_plans(tx, standards[0].id)
            inspectors = await demo_inspectors(tx)
        today = utc_now().astimezone(ZoneInfo(settings.timezone)).date()
        await seed_demo_history(settings.resolved_database_url, standards[0], inspectors, today)
        return logins, settings

    logins, settings = run_with_db(work)
    host, port = settings.http_host, settings.http_port
    if logins is None:
        print("已有数据，未创建演示数据 (existing data kept; no demo created).")
        print(f"网页聊天 web chat: {chat_url(host, port, settings.public_url)}")
        print("为某人生成登录链接 (a sign-in link): pinjian invite create 姓名 --channel web")
        return 0
    standards = StandardsCatalog.load(settings.data_dir).available()
    titles = "、".join(f"{s.title}（{len(s.items)} 项）" for s in standards)
    regions = "；".join(f"{region}区域：{'、'.join(sites)}" for region, sites in DEMO_REGIONS)
    print(f"已创建演示公司 (demo company created)：{regions}；检查标准 {titles}")
    print(
        f"检查计划 (plans)：每个项目每周一次周检；{DEMO_CROSS_SITE}每月 20–28 日由 王检查 交叉检查"
        "（pinjian plan list 查看）"
    )
    last = Period.month(utc_now().astimezone(ZoneInfo(settings.timezone)).date()).previous()
    print(
        f"历史数据 (history)：前 {MONTHS} 个月每个项目各一次检查，"
        "整改任务有按时完成、逾期完成和未完成的；"
        f"月度通报：pinjian bulletin --month {last.label} --format pdf"
    )
    print(
        "在浏览器中打开各人的专属链接；链接即登录凭证，请勿外传 (each link signs that person in):"
    )
    for login in logins:
        link = login_link(host, port, login.token, settings.public_url)
        where = f"，{login.where}" if login.where else ""
        print(f"  {login.name}（{ROLE_NAMES[login.role]}{where}）：{link}")
    return 0
