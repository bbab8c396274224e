"""`pinjian demo`: seed the demo company (bot/demo.py) and print each person's web link; on a
database that already has people or sites it changes nothing and says how to get links instead."""

from __future__ import annotations

import argparse
from zoneinfo import ZoneInfo

from bot.cli.common import SubParsers
from bot.cli.dbctx import run_with_db
from bot.config import Settings
from bot.core.kpi import Period
from bot.demo import (
    DEMO_CROSS_SITE,
    DEMO_REGIONS,
    DemoLogin,
    demo_inspectors,
    seed_demo,
    seed_demo_plans,
)
from bot.demo_history import MONTHS, seed_demo_history
from bot.flows.access import role_name
from bot.flows.catalog import StandardsCatalog
from bot.handlers.web.links import chat_url, login_link
from storage.base import utc_now
from storage.db import Database


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
        print(f"  {login.name}（{role_name(login.role)}{where}）：{link}")
    return 0
