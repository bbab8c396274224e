"""`pinjian settings show|set|reset`: the company's settings (`bot.core.company_settings`) and a
site's own, with where each value comes from; every change goes to the audit log.

A site's time zone and quiet hours are columns of the site: a site without quiet hours of its
own has the company's, so changing the company's quiet hours moves every site that had the
company's old ones, and `reset --site` gives a site the company's again.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from bot.cli.common import CliError, SubParsers
from bot.cli.dbctx import run_with_db
from bot.cli.lookup import find_site
from bot.config import Settings
from bot.core import company_settings
from bot.core.company_settings import Key, Resolved, SettingError
from storage.db import Database, Tx
from storage.records import Site


def register(commands: SubParsers) -> None:
    group = commands.add_parser("settings", help="公司设置：查看、修改、恢复默认 (settings)")
    sub = group.add_subparsers(dest="settings_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="列出每项设置的值、来源和说明 (show every setting)")
    show.add_argument("--site", help="某个项目实际生效的设置（含项目自己的）")
    show.add_argument("--json", action="store_true", help="输出 JSON")
    show.set_defaults(handler=_show)
    change = sub.add_parser("set", help="修改一项设置 (set KEY VALUE)")
    change.add_argument("key", metavar="KEY", help="设置项，如 reminders.at")
    change.add_argument("value", metavar="VALUE", help="JSON 或普通文字，如 08:30、[3, 1]、true")
    change.add_argument("--site", help="只改这个项目的（可按项目设置的项）")
    change.set_defaults(handler=_set)
    reset = sub.add_parser("reset", help="恢复一项设置：公司恢复默认，项目恢复公司的 (reset KEY)")
    reset.add_argument("key", metavar="KEY")
    reset.add_argument("--site", help="项目不再单独设置这一项")
    reset.set_defaults(handler=_reset)


def _parse(text: str) -> Any:
    """VALUE is JSON when it reads as JSON (08:30 does not), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _key(name: str, site: str | None) -> Key:
    try:
        setting = company_settings.key(name)
    except SettingError as exc:
        raise CliError(str(exc)) from None
    if site is not None and not setting.per_site:
        raise CliError(f"{name}：不能按项目设置，全公司统一；请去掉 --site")
    if site is None and not setting.company:
        raise CliError(
            f"{name}：只能按项目设置（--site 项目）；新项目的默认时区是 PINJIAN_TIMEZONE"
        )
    return setting


async def _resolved(tx: Tx, config: Settings, site: Site | None) -> Resolved:
    return await company_settings.load(tx.settings, site, timezone=config.timezone)


def _show(args: argparse.Namespace) -> int:
    async def work(db: Database, config: Settings) -> tuple[Site | None, Resolved]:
        async with db.read() as tx:
            site = await find_site(tx, args.site) if args.site else None
            return site, await _resolved(tx, config, site)

    site, resolved = run_with_db(work)
    rows = [
        {
            "key": setting.name,
            "value": resolved.value(setting.name),
            "source": resolved.sources[setting.name].value,
            "description": setting.description,
            "allowed": setting.allowed,
            "per_site": setting.per_site,
        }
        for setting in company_settings.KEYS.values()
    ]
    if args.json:
        out = {"site": site.name if site else None, "settings": rows}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print(f"项目 {site.name} 的设置" if site else "公司设置")
    print("设置项\t值\t来源\t说明")
    for row, setting in zip(rows, company_settings.KEYS.values(), strict=True):
        source = resolved.sources[setting.name].label
        print(f"{row['key']}\t{_shown(row['value'])}\t{source}\t{row['description']}")
    return 0


def _set(args: argparse.Namespace) -> int:
    setting = _key(args.key, args.site)
    try:
        value = company_settings.validate(setting.name, _parse(args.value))
    except SettingError as exc:
        raise CliError(str(exc)) from None
    return _change(args, setting, value)


def _reset(args: argparse.Namespace) -> int:
    return _change(args, _key(args.key, args.site), None)


def _change(args: argparse.Namespace, setting: Key, value: Any) -> int:
    """Set (value) or reset (None) one setting of the company or of a site, in one
    transaction with its audit entry."""

    async def work(db: Database, config: Settings) -> tuple[str, Any, Any, int]:
        async with db.transaction() as tx:
            site = await find_site(tx, args.site) if args.site else None
            before = (await _resolved(tx, config, site)).value(setting.name)
            moved = 0
            if site is None:
                moved = await _write_company(tx, config, setting, value)
            else:
                await _write_site(tx, config, site, setting, value)
                site = await tx.sites.get(site.id)
            after = (await _resolved(tx, config, site)).value(setting.name)
            details = {"key": setting.name, "from": before, "to": after}
            if moved:
                details["sites_moved"] = moved
            await tx.audit.record(
                "cli",
                "settings.set" if value is not None else "settings.reset",
                target=f"site:{site.id}" if site else "company",
                details=details,
            )
            return (f"项目 {site.name}" if site else "公司"), before, after, moved

    where, before, after, moved = run_with_db(work)
    verb = "已设置" if value is not None else "已恢复"
    print(f"{verb}{where}的 {setting.name}：{_shown(before)} → {_shown(after)}")
    if moved:
        print(f"{moved} 个未单独设置的项目随公司一起改为 {_shown(after)}")
    return 0


def _with(values: Mapping[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """`values` with the key at `path` set to `value`, or removed when None (an object left
    empty is removed too)."""
    head, rest = path[0], path[1:]
    changed = dict(values)
    if rest:
        inner = changed.get(head)
        value = _with(inner if isinstance(inner, Mapping) else {}, rest, value) or None
    if value is None:
        changed.pop(head, None)
    else:
        changed[head] = value
    return changed


async def _write_company(tx: Tx, config: Settings, setting: Key, value: Any) -> int:
    """Store the company's value; returns how many sites followed a change of quiet hours."""
    old = (await _resolved(tx, config, None)).value(setting.name)
    head = setting.path[0]
    stored = await tx.settings.all()
    changed = _with(stored, setting.path, value).get(head)
    if changed is None:
        await tx.settings.delete(head)
    else:
        await tx.settings.set(head, changed)
    if not setting.column:
        return 0
    new = (await _resolved(tx, config, None)).value(setting.name)
    moved = 0
    for site in await tx.sites.all(include_inactive=True):
        if [site.quiet_start, site.quiet_end] == old and old != new:
            await tx.sites.update(site.id, quiet_start=new[0], quiet_end=new[1])
            moved += 1
    return moved


async def _write_site(tx: Tx, config: Settings, site: Site, setting: Key, value: Any) -> None:
    if setting.name == "timezone":
        await tx.sites.update(site.id, timezone=value or config.timezone)
    elif setting.name == "quiet_hours":
        start, end = value or (await _resolved(tx, config, None)).value("quiet_hours")
        await tx.sites.update(site.id, quiet_start=start, quiet_end=end)
    else:
        await tx.sites.update(site.id, settings=_with(site.settings, setting.path, value))
