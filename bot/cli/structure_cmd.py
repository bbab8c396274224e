"""`pinjian region …`, `pinjian site set`, `pinjian person role|show`: the company's shape
(公司 → 区域 → 项目) and the roles people hold at each level (rules: bot.cli.grants)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any

from bot.cli.common import CliError, SubParsers
from bot.cli.dbctx import run_with_db
from bot.cli.grants import (
    Scope,
    grant_role,
    keep_extensions_decidable,
    remove_role,
    scope_of,
)
from bot.cli.lookup import find_person, find_region, find_site
from bot.config import Settings
from bot.flows.access import role_name
from storage.db import Database, Tx
from storage.records import Channel, Person, Region, Role, Site, TaskStatus

STATUS_LABELS = {TaskStatus.OPEN: "待整改", TaskStatus.REVIEW: "待复查", TaskStatus.DONE: "已完成"}


def register(commands: SubParsers) -> None:
    region = commands.add_parser("region", help="区域管理 (regions grouping sites)")
    region_sub = region.add_subparsers(dest="region_command", metavar="ACTION", required=True)
    add = region_sub.add_parser("add", help="新建区域 (add a region)")
    add.add_argument("name", help="区域名称，如 华东")
    add.set_defaults(handler=_region_add)
    listing = region_sub.add_parser("list", help="列出区域及其项目 (list regions and sites)")
    listing.add_argument("--json", action="store_true", help="以 JSON 输出 (stable format)")
    listing.set_defaults(handler=_region_list)


def register_site(site_sub: SubParsers) -> None:
    """`site set` (under the `site` command of bot.cli.admin_cmd)."""
    change = site_sub.add_parser(
        "set", help="调整项目所属区域或坐标 (move a site into a region, set its coordinates)"
    )
    change.add_argument("name", help="项目名称或编号")
    change.add_argument("--region", help="区域名称或编号")
    change.add_argument(
        "--coords",
        metavar="纬度,经度",
        help="项目坐标（WGS 84 度，如 31.2304,121.4737；“无”清除），用于标注远离项目拍摄的照片",
    )
    change.set_defaults(handler=_site_set)


def register_person(person_sub: SubParsers) -> None:
    """`person role add|remove` and `person show` (under bot.cli.admin_cmd's `person`)."""
    role = person_sub.add_parser(
        "role", help="授予或移除项目/区域/公司级角色 (roles at a site, region or company)"
    )
    role_sub = role.add_subparsers(dest="role_command", metavar="ACTION", required=True)
    for action, handler, text in (
        ("add", _role_add, "授予角色 (grant a role)"),
        ("remove", _role_remove, "移除角色 (remove a role)"),
    ):
        parser = role_sub.add_parser(action, help=text)
        parser.add_argument("person", help="姓名，或人员编号")
        parser.add_argument(
            "--role",
            required=True,
            choices=[r.value for r in Role],
            help="inspector 检查员 / responsible 责任人 / manager 经理",
        )
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--site", help="在一个项目（名称或编号）")
        where.add_argument("--region", help="在一个区域的所有项目（名称或编号）")
        where.add_argument("--company", action="store_true", help="在全公司所有项目")
        parser.set_defaults(handler=handler)
    show = person_sub.add_parser("show", help="查看人员的角色、绑定与待办任务 (show a person)")
    show.add_argument("person", help="姓名，或人员编号")
    show.add_argument("--json", action="store_true", help="以 JSON 输出 (stable format)")
    show.set_defaults(handler=_person_show)


async def _scope(tx: Tx, args: argparse.Namespace) -> Scope:
    if args.site is not None:
        return Scope(site=await find_site(tx, args.site))
    if args.region is not None:
        return Scope(region=await find_region(tx, args.region))
    return Scope()


def _region_add(args: argparse.Namespace) -> int:
    name = args.name.strip()
    if not name:
        raise CliError("区域名称不能为空 (name is empty)")

    async def work(db: Database, settings: Settings) -> Region:
        async with db.transaction() as tx:
            if await tx.regions.by_name(name) is not None:
                raise CliError(f"区域 {name} 已存在 (region exists)")
            region = await tx.regions.create(name)
            await tx.audit.record(
                "cli", "region.add", target=f"region:{region.id}", details={"name": name}
            )
        return region

    region = run_with_db(work)
    print(f"已新建区域 #{region.id} {region.name}")
    return 0


def _region_list(args: argparse.Namespace) -> int:
    async def work(db: Database, settings: Settings) -> tuple[list[Region], list[Site]]:
        async with db.read() as tx:
            return await tx.regions.all(), await tx.sites.all()

    regions, sites = run_with_db(work)
    listed: list[dict[str, Any]] = [
        {
            "id": region.id,
            "name": region.name,
            "sites": [{"id": s.id, "name": s.name} for s in sites if s.region_id == region.id],
        }
        for region in regions
    ]
    loose: list[dict[str, Any]] = [
        {"id": s.id, "name": s.name} for s in sites if s.region_id is None
    ]
    if args.json:
        print(json.dumps({"regions": listed, "unassigned": loose}, ensure_ascii=False, indent=2))
        return 0
    for row in listed:
        names = "、".join(s["name"] for s in row["sites"]) or "（暂无项目）"
        print(f"#{row['id']}\t{row['name']}\t{names}")
    if loose:
        print(f"未分区域\t{'、'.join(s['name'] for s in loose)}")
    return 0


def parse_coords(text: str) -> tuple[float, float] | None:
    """纬度,经度 in degrees (WGS 84, as a phone's GPS gives them); 无 / none: no coordinates."""
    if text.strip().lower() in ("无", "none", "-"):
        return None
    parts = text.replace("，", ",").split(",")
    try:
        latitude, longitude = (float(part) for part in parts)
    except ValueError:
        raise CliError(
            f"坐标格式应为 纬度,经度（如 31.2304,121.4737）: {text} "
            "(coordinates must be LAT,LON in degrees)"
        ) from None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180) or (latitude, longitude) == (
        0,
        0,
    ):
        raise CliError(
            f"坐标超出范围：纬度应在 -90 到 90 之间，经度应在 -180 到 180 之间: {text} "
            "(latitude -90..90, longitude -180..180)"
        )
    return latitude, longitude


def _site_set(args: argparse.Namespace) -> int:
    if args.region is None and args.coords is None:
        raise CliError("请指定 --region 或 --coords (give --region or --coords)")
    if args.coords is not None:
        position = parse_coords(args.coords)
        if args.region is None:
            return _site_position(args.name, position)

    async def work(db: Database, settings: Settings) -> tuple[Site, Region, str | None]:
        async with db.transaction() as tx:
            site = await find_site(tx, args.name)
            region = await find_region(tx, args.region)
            before = await tx.regions.get(site.region_id) if site.region_id else None
            if before is not None and before.id == region.id:
                raise CliError(f"{site.name} 已属于 {region.name} 区域 (already in that region)")
            moved = await tx.sites.set_region(site.id, region.id)
            await keep_extensions_decidable(tx, Scope(site=moved))
            await tx.audit.record(
                "cli",
                "site.region",
                target=f"site:{site.id}",
                details={"region": region.id, "was": before.id if before else None},
            )
        return site, region, before.name if before else None

    site, region, before = run_with_db(work)
    moved = f"（原属 {before}）" if before else ""
    print(f"项目 {site.name} 现属于 {region.name} 区域{moved}")
    if args.coords is not None:
        return _site_position(args.name, parse_coords(args.coords))
    return 0


def _site_position(name: str, position: tuple[float, float] | None) -> int:
    async def work(db: Database, settings: Settings) -> Site:
        async with db.transaction() as tx:
            site = await find_site(tx, name)
            placed = await tx.sites.set_position(site.id, position)
            await tx.audit.record(
                "cli",
                "site.coords",
                target=f"site:{site.id}",
                details={"coords": list(position) if position else None},
            )
        return placed

    site = run_with_db(work)
    if site.latitude is None or site.longitude is None:
        print(f"项目 {site.name} 已清除坐标")
    else:
        print(f"项目 {site.name} 坐标：{site.latitude},{site.longitude}")
    return 0


def _role_add(args: argparse.Namespace) -> int:
    role = Role(args.role)

    async def work(db: Database, settings: Settings) -> tuple[Person, Scope, list[Scope]]:
        async with db.transaction() as tx:
            person = await find_person(tx, args.person)
            scope = await _scope(tx, args)
            _, replaced = await grant_role(tx, person, role, scope)
            await tx.audit.record(
                "cli",
                "role.add",
                target=f"person:{person.id}",
                details={
                    "role": role.value,
                    **scope.audit(),
                    "replaced": [s.audit() for s in replaced],
                },
            )
        return person, scope, replaced

    person, scope, replaced = run_with_db(work)
    print(f"{person.name}（#{person.id}）现为{scope.label()}的{role_name(role)}")
    if replaced:
        print(f"取代了其原有的：{'、'.join(s.label() for s in replaced)}（已由上级角色覆盖）")
    return 0


def _role_remove(args: argparse.Namespace) -> int:
    role = Role(args.role)

    async def work(db: Database, settings: Settings) -> tuple[Person, Scope]:
        async with db.transaction() as tx:
            person = await find_person(tx, args.person)
            scope = await _scope(tx, args)
            await remove_role(tx, person, role, scope)
            await tx.audit.record(
                "cli",
                "role.remove",
                target=f"person:{person.id}",
                details={"role": role.value, **scope.audit()},
            )
        return person, scope

    person, scope = run_with_db(work)
    print(f"已移除 {person.name}（#{person.id}）在{scope.label()}的{role_name(role)}角色")
    return 0


@dataclass(frozen=True)
class Shown:
    person: Person
    roles: list[dict[str, Any]]
    bindings: list[dict[str, Any]]
    tasks: list[dict[str, Any]]


def _person_show(args: argparse.Namespace) -> int:
    async def work(db: Database, settings: Settings) -> Shown:
        async with db.read() as tx:
            person = await find_person(tx, args.person)
            roles = []
            for grant in await tx.roles.for_person(person.id):
                scope = await scope_of(tx, grant)
                roles.append({"role": grant.role.value, "where": scope.label(), **scope.audit()})
            bindings = [
                {
                    "channel": identity.channel.value,
                    # A web login's external id is a token's hash: nothing to show.
                    "account": None if identity.channel is Channel.WEB else identity.external_id,
                    "since": identity.bound_at.isoformat(),
                }
                for identity in await tx.identities.for_person(person.id)
            ]
            open_tasks = await tx.tasks.open_for_person(person.id)
            names = {s.id: s.name for s in await tx.sites.get_many({t.site_id for t in open_tasks})}
            tasks = [
                {
                    "id": task.id,
                    "site": names.get(task.site_id, ""),
                    "status": task.status.value,
                    "due": task.due_date.isoformat() if task.due_date else None,
                    "overdue": task.is_overdue(tx.now().date()),
                    "finding": task.finding,
                }
                for task in open_tasks
            ]
        return Shown(person, roles, bindings, tasks)

    shown = run_with_db(work)
    person = shown.person
    if args.json:
        document = {
            "id": person.id,
            "name": person.name,
            "phone": person.phone,
            "roles": shown.roles,
            "bindings": shown.bindings,
            "open_tasks": shown.tasks,
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return 0
    print(f"#{person.id} {person.name}\t手机 {person.phone or '-'}")
    print("角色：" if shown.roles else "角色：无")
    for row in shown.roles:
        print(f"  {row['where']}\t{role_name(Role(row['role']))}")
    print("绑定：" if shown.bindings else "绑定：无（尚未绑定聊天账号）")
    for row in shown.bindings:
        print(f"  {row['channel']}\t{row['account'] or '网页链接'}\t{row['since'][:10]}")
    print(f"待办整改任务：{len(shown.tasks)} 项")
    for row in shown.tasks:
        late = "（逾期）" if row["overdue"] else ""
        status = STATUS_LABELS[TaskStatus(row["status"])]
        print(
            f"  #{row['id']}\t{row['site']}\t{status}{late}\t{row['due'] or '—'}\t{row['finding']}"
        )
    return 0
