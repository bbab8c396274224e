"""`pinjian group add|invite|remove|list`: the project groups (项目群) a site or region posts to.

A WeCom group robot's webhook key is a secret: it is stored, never printed (`list` shows its
last four characters) and never written to the audit log. Give it as `-` to read it from
standard input instead of the command line (which shells keep in their history).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.cli.common import CliError, SubParsers
from bot.cli.dbctx import run_with_db
from bot.cli.lookup import find_region, find_site
from bot.config import Settings
from bot.core.webhooks import WebhookKeyError, masked, webhook_key
from storage.db import Database, Tx
from storage.groups import CODE_DAYS
from storage.records import ChatGroup, GroupKind


def register(commands: SubParsers) -> None:
    group = commands.add_parser("group", help="项目群：绑定企业微信群机器人或 Telegram 群 (groups)")
    sub = group.add_subparsers(dest="group_command", metavar="ACTION", required=True)

    def target(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("target", metavar="SITE", help="项目名称或编号（或 --region 时的区域）")
        parser.add_argument("--region", action="store_true", help="SITE 是区域：区域级的群")

    add = sub.add_parser("add", help="绑定企业微信群机器人 (bind a WeCom group robot)")
    target(add)
    add.add_argument(
        "--wecom-webhook",
        required=True,
        metavar="KEY_OR_URL",
        help="群机器人的 Webhook 地址或其中的 key；写 - 则从标准输入读取",
    )
    add.set_defaults(handler=_add)

    invite = sub.add_parser("invite", help="生成 Telegram 群的一次性绑定码 (/bind CODE)")
    target(invite)
    invite.set_defaults(handler=_invite)

    remove = sub.add_parser("remove", help="解除项目群绑定 (unbind a group)")
    target(remove)
    kind = remove.add_mutually_exclusive_group(required=True)
    kind.add_argument("--telegram", action="store_true", help="解除 Telegram 群")
    kind.add_argument("--wecom", action="store_true", help="解除企业微信群机器人")
    remove.set_defaults(handler=_remove)

    listing = sub.add_parser("list", help="列出已绑定的项目群 (list groups)")
    listing.add_argument("--json", action="store_true", help="以 JSON 输出 (stable format)")
    listing.set_defaults(handler=_list)


Scope = tuple[int | None, int | None, str]
"""(site id, region id, name as shown)."""


async def _scope(tx: Tx, args: argparse.Namespace) -> Scope:
    if args.region:
        region = await find_region(tx, args.target)
        return None, region.id, f"区域 {region.name}"
    site = await find_site(tx, args.target)
    return site.id, None, f"项目 {site.name}"


def _read_key(value: str) -> str:
    text = sys.stdin.readline() if value == "-" else value
    try:
        return webhook_key(text)
    except WebhookKeyError as exc:
        raise CliError(f"{exc} (not a WeCom group robot webhook URL or key)") from None


def _add(args: argparse.Namespace) -> int:
    key = _read_key(args.wecom_webhook)

    async def work(db: Database, settings: Settings) -> tuple[ChatGroup, str]:
        async with db.transaction() as tx:
            site_id, region_id, name = await _scope(tx, args)
            group = await tx.groups.add(
                GroupKind.WECOM, site_id=site_id, region_id=region_id, webhook_key=key, title=name
            )
            await tx.audit.record("cli", "group.add", target=f"group:{group.id}")
        return group, name

    group, name = run_with_db(work)
    print(f"已为{name}绑定企业微信群机器人（key {masked(group.webhook_key)}，群 #{group.id}）")
    return 0


def _invite(args: argparse.Namespace) -> int:
    async def work(db: Database, settings: Settings) -> tuple[str, str]:
        async with db.transaction() as tx:
            site_id, region_id, name = await _scope(tx, args)
            code = await tx.groups.create_code(site_id=site_id, region_id=region_id)
            await tx.audit.record("cli", "group.invite", target=name)
        return code.code, name

    code, name = run_with_db(work)
    print(f"{name} 的 Telegram 群绑定码（一次有效，{CODE_DAYS} 天内）：{code}")
    print("请把机器人拉进群，由该项目的经理在群里发送：")
    print(f"/bind {code}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    kind = GroupKind.TELEGRAM if args.telegram else GroupKind.WECOM

    async def work(db: Database, settings: Settings) -> str:
        async with db.transaction() as tx:
            site_id, region_id, name = await _scope(tx, args)
            group = await tx.groups.current(kind, site_id=site_id, region_id=region_id)
            if group is None:
                raise CliError(f"{name} 没有绑定{_kind_name(kind)} (no such group)")
            await tx.groups.remove(group.id)
            await tx.audit.record("cli", "group.remove", target=f"group:{group.id}")
        return name

    name = run_with_db(work)
    print(f"已解除{name}的{_kind_name(kind)}绑定")
    return 0


def _kind_name(kind: GroupKind) -> str:
    return "Telegram 群" if kind is GroupKind.TELEGRAM else "企业微信群机器人"


def _list(args: argparse.Namespace) -> int:
    async def work(db: Database, settings: Settings) -> list[dict[str, Any]]:
        async with db.read() as tx:
            rows = []
            for group in await tx.groups.all():
                site = await tx.sites.get(group.site_id) if group.site_id else None
                region = await tx.regions.get(group.region_id) if group.region_id else None
                rows.append(
                    {
                        "id": group.id,
                        "kind": group.kind.value,
                        "site": site.name if site else None,
                        "region": region.name if region else None,
                        "chat_id": group.chat_id,
                        "webhook": masked(group.webhook_key) or None,
                        "title": group.title,
                        "active": group.active,
                    }
                )
            return rows

    rows = run_with_db(work)
    if args.json:
        print(json.dumps({"groups": rows}, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("还没有绑定项目群 (no groups)；用 pinjian group add / invite 绑定")
        return 0
    for row in rows:
        scope = f"项目 {row['site']}" if row["site"] else f"区域 {row['region']}"
        where = f"key {row['webhook']}" if row["kind"] == "wecom" else f"chat {row['chat_id']}"
        state = "有效" if row["active"] else "已失效（机器人被移出）"
        print(f"#{row['id']}  {scope}  {_kind_name(GroupKind(row['kind']))}  {where}  {state}")
    return 0
