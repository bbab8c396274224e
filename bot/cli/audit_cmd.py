"""`pinjian audit [--since DATE] [--person NAME] [--json]`: the audit log of admin actions,
newest first, one line per entry (the chat-side history of a task is in the task itself)."""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from bot.cli.common import CliError, SubParsers
from bot.cli.dbctx import run_with_db
from bot.config import Settings
from storage.db import Database, Tx
from storage.records import AuditEntry

ACTIONS = {
    "site.add": "新建项目",
    "person.add": "新增人员",
    "person.deactivate": "停用人员",
    "person.import": "导入人员",
    "invite.create": "创建邀请",
    "invite.revoke": "撤销邀请",
    "web.link": "网页登录链接",
    "web.revoke": "撤销网页登录",
    "demo.seed": "演示数据",
    "settings.set": "修改设置",
    "settings.reset": "恢复设置",
}


def register(commands: SubParsers) -> None:
    audit = commands.add_parser("audit", help="审计日志：谁在何时改了什么 (audit log)")
    audit.add_argument("--since", help="从这天（公司时区）起，如 2026-12-01")
    audit.add_argument("--person", help="只看此人做的或关于此人的记录（姓名或 #编号）")
    audit.add_argument("--limit", type=int, default=200, help="最多几条 (default 200)")
    audit.add_argument("--json", action="store_true", help="输出 JSON")
    audit.set_defaults(handler=_audit)


def _since(text: str | None, timezone: str) -> datetime | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise CliError(f"看不懂日期 {text}，请用 2026-12-01 这样的格式") from None
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(timezone))


async def _refs(tx: Tx, name: str | None) -> list[str] | None:
    """The audit references ("person:12") of everyone with this name (people who left too),
    or of one person by #id."""
    if name is None:
        return None
    if name.startswith("#") and name[1:].isdigit():
        person = await tx.people.get(int(name[1:]))
        found = [person] if person is not None else []
    else:
        found = await tx.people.find_by_name(name)
    if not found:
        raise CliError(f"没有名为 {name} 的人员 (unknown person)")
    return [f"person:{p.id}" for p in found]


async def _names(tx: Tx, entries: list[AuditEntry]) -> dict[str, str]:
    """Readable names of the actors and targets: 命令行, 公司, 人员 王检查, 项目 阳光花园."""
    names = {"cli": "命令行", "company": "公司"}
    for ref in {e.actor for e in entries} | {e.target for e in entries if e.target}:
        kind, _, number = ref.partition(":")
        if ref in names or not number.isdigit():
            continue
        if kind == "person":
            person = await tx.people.get(int(number))
            names[ref] = f"人员 {person.name}" if person else ref
        elif kind == "site":
            site = await tx.sites.get(int(number))
            names[ref] = f"项目 {site.name}" if site else ref
    return names


def _audit(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CliError("--limit 至少为 1")

    async def work(db: Database, config: Settings) -> tuple[list[AuditEntry], dict[str, str], str]:
        since = _since(args.since, config.timezone)
        async with db.read() as tx:
            about = await _refs(tx, args.person)
            entries = await tx.audit.recent(limit=args.limit, since=since, about=about)
            return entries, await _names(tx, entries), config.timezone

    entries, names, timezone = run_with_db(work)
    zone = ZoneInfo(timezone)
    if args.json:
        print(json.dumps([_json(e, names) for e in entries], ensure_ascii=False, indent=2))
        return 0
    if not entries:
        print("审计日志中没有符合条件的记录 (no entries)")
        return 0
    print("时间\t操作者\t操作\t对象\t详情")
    for e in entries:
        at = e.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        target = names.get(e.target, e.target) if e.target else "—"
        details = json.dumps(e.details, ensure_ascii=False) if e.details else ""
        action = ACTIONS.get(e.action, e.action)
        print(f"{at}\t{names.get(e.actor, e.actor)}\t{action}\t{target}\t{details}")
    return 0


def _json(entry: AuditEntry, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "actor_name": names.get(entry.actor, entry.actor),
        "action": entry.action,
        "target": entry.target,
        "target_name": names.get(entry.target, entry.target) if entry.target else None,
        "details": entry.details,
    }
