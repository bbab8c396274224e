"""`pinjian plan add|list|remove`: inspection plans (周检 / 月检 / 交叉检查) at a site or at
every site of a region; the scheduler turns each period into an occurrence (bot/plans.py)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from bot.cli.common import CliError, SubParsers
from bot.cli.dbctx import run_with_db
from bot.cli.lookup import find_person, find_region, find_site
from bot.config import Settings
from bot.core.plans import WindowError, check_window, every_name
from bot.flows.catalog import StandardsCatalog
from storage.db import Database, Tx
from storage.errors import NotFound
from storage.records import Person, Plan, PlanEvery, PlanKind, Role, Site

KIND_NAMES = {PlanKind.SELF: "自检", PlanKind.CROSS: "交叉检查", PlanKind.QUALITY: "品质部检查"}


def register(commands: SubParsers) -> None:
    plan = commands.add_parser("plan", help="检查计划 (inspection plans)")
    sub = plan.add_subparsers(dest="plan_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="新建检查计划 (add a plan)")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--site", help="项目名称或编号")
    where.add_argument("--region", help="区域名称或编号（区域内每个项目）")
    add.add_argument("--standard", required=True, help="检查标准编号 (standard id)")
    add.add_argument(
        "--every",
        required=True,
        choices=[e.value for e in PlanEvery],
        help="周期 week/month/quarter",
    )
    add.add_argument(
        "--from",
        dest="first",
        type=int,
        help="窗口起始日：周 1–7（周一–周日），月 1–31，季 1–92；默认周期第一天",
    )
    add.add_argument("--to", dest="last", type=int, help="窗口结束日（含）；默认周期最后一天")
    add.add_argument(
        "--inspector", action="append", required=True, help="指派的检查员（姓名或编号，可多次）"
    )
    add.add_argument(
        "--kind",
        choices=[k.value for k in PlanKind],
        default=PlanKind.SELF.value,
        help="self 自检 / cross 交叉检查 / quality 品质部检查",
    )
    add.set_defaults(handler=_add)
    listing = sub.add_parser("list", help="列出检查计划 (list plans)")
    listing.add_argument("--json", action="store_true", help="以 JSON 输出 (stable format)")
    listing.set_defaults(handler=_list)
    remove = sub.add_parser("remove", help="停止检查计划 (remove a plan; history is kept)")
    remove.add_argument("id", type=int, help="计划编号")
    remove.set_defaults(handler=_remove)


def _add(args: argparse.Namespace) -> int:
    every = PlanEvery(args.every)
    try:
        first, last = check_window(every, args.first, args.last)
    except WindowError as exc:
        raise CliError(str(exc)) from None

    async def work(db: Database, settings: Settings) -> dict[str, Any]:
        if StandardsCatalog.load(settings.data_dir).get(args.standard) is None:
            raise CliError(f"没有这个检查标准 unknown standard: {args.standard}")
        async with db.transaction() as tx:
            site_id = region_id = None
            if args.site is not None:
                site = await find_site(tx, args.site)
                site_id, sites = site.id, [site]
            else:
                region = await find_region(tx, args.region)
                region_id, sites = region.id, await tx.sites.in_region(region.id)
                if not sites:
                    raise CliError(f"区域 {region.name} 还没有项目 (region has no sites)")
            inspectors = [await find_person(tx, ref) for ref in args.inspector]
            await _check_inspectors(tx, inspectors, sites)
            plan = await tx.plans.create(
                site_id=site_id,
                region_id=region_id,
                std_id=args.standard,
                every=every,
                window_from=first,
                window_to=last,
                kind=PlanKind(args.kind),
                inspector_ids=[p.id for p in inspectors],
            )
            row = await _row(tx, plan)
            await tx.audit.record("cli", "plan.add", target=f"plan:{plan.id}", details=row)
        return row

    row = run_with_db(work)
    print(f"已新建检查计划 #{row['id']} {_line(row)}")
    return 0


async def _check_inspectors(tx: Tx, inspectors: list[Person], sites: list[Site]) -> None:
    for person in inspectors:
        for site in sites:
            if not await tx.roles.has(person.id, site.id, Role.INSPECTOR):
                raise CliError(
                    f"{person.name} 在 {site.name} 没有检查员角色"
                    f"（先用 pinjian person role add 授予） (not an inspector there)"
                )


async def _row(tx: Tx, plan: Plan) -> dict[str, Any]:
    site = await tx.sites.get(plan.site_id) if plan.site_id is not None else None
    region = await tx.regions.get(plan.region_id) if plan.region_id is not None else None
    people = {p.id: p for p in await tx.people.get_many(plan.inspector_ids)}
    return {
        "id": plan.id,
        "site": site.name if site else None,
        "region": region.name if region else None,
        "standard": plan.std_id,
        "every": plan.every.value,
        "from": plan.window_from,
        "to": plan.window_to,
        "kind": plan.kind.value,
        "inspectors": [people[i].name for i in plan.inspector_ids if i in people],
        "active": plan.active,
        "created_at": plan.created_at.isoformat(),
        "removed_at": plan.removed_at.isoformat() if plan.removed_at else None,
    }


def _line(row: dict[str, Any]) -> str:
    where = row["site"] or f"{row['region']}区域各项目"
    every = every_name(PlanEvery(row["every"]))
    kind = KIND_NAMES[PlanKind(row["kind"])]
    return (
        f"{where}\t{every}（{row['from']}–{row['to']} 日）\t{kind}\t{row['standard']}"
        f"\t{'、'.join(row['inspectors'])}"
    )


def _list(args: argparse.Namespace) -> int:
    async def work(db: Database, settings: Settings) -> list[dict[str, Any]]:
        async with db.read() as tx:
            return [await _row(tx, plan) for plan in await tx.plans.all()]

    rows = run_with_db(work)
    if args.json:
        print(json.dumps({"plans": rows}, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("还没有检查计划（用 pinjian plan add 新建）")
    for row in rows:
        print(f"#{row['id']}\t{_line(row)}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    async def work(db: Database, settings: Settings) -> int:
        async with db.transaction() as tx:
            try:
                ended = await tx.plans.remove(args.id)
            except NotFound:
                raise CliError(f"没有进行中的检查计划 #{args.id} (unknown plan)") from None
            await tx.audit.record(
                "cli", "plan.remove", target=f"plan:{args.id}", details={"ended": ended}
            )
        return ended

    ended = run_with_db(work)
    print(f"已停止检查计划 #{args.id}，取消了 {ended} 次未到期的计划检查（记录保留）")
    return 0
