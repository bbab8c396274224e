"""`pinjian site|person|invite …`: the admin's way to set up sites, people and their access."""

from __future__ import annotations

import argparse
import csv
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.cli.common import CliError, SubParsers
from bot.cli.dbctx import run_with_db
from bot.config import Settings
from bot.core import company_settings
from storage.db import Database, Tx
from storage.errors import IdentityInUse
from storage.records import Channel, Person, Role, Site

ROLE_WORDS = {
    "inspector": Role.INSPECTOR,
    "检查员": Role.INSPECTOR,
    "检查": Role.INSPECTOR,
    "responsible": Role.RESPONSIBLE,
    "责任人": Role.RESPONSIBLE,
    "manager": Role.MANAGER,
    "经理": Role.MANAGER,
    "管理": Role.MANAGER,
    "品质部": Role.MANAGER,
}
INVITE_DAYS = 7
WECOM_COLUMNS = ("企业微信", "企业微信账号", "UserID")
# WeCom's rule for a UserID: 1-64 letters, digits and _-@., starting with a letter or digit.
WECOM_USERID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


def register(commands: SubParsers) -> None:
    site = commands.add_parser("site", help="项目（小区）管理 (sites)")
    site_sub = site.add_subparsers(dest="site_command", metavar="ACTION", required=True)
    add = site_sub.add_parser("add", help="新建项目 (add a site)")
    add.add_argument("name", help="项目名称")
    add.add_argument("--timezone", default=None, help="时区，默认取 PINJIAN_TIMEZONE")
    add.add_argument("--address", default="", help="地址")
    add.add_argument(
        "--quiet-hours",
        default=None,
        help="免打扰时段，如 21:00-08:00（默认：公司的）",
    )
    add.set_defaults(handler=_site_add)
    listing = site_sub.add_parser("list", help="列出项目 (list sites)")
    listing.set_defaults(handler=_site_list)

    person = commands.add_parser("person", help="人员管理 (people and their roles)")
    person_sub = person.add_subparsers(dest="person_command", metavar="ACTION", required=True)
    padd = person_sub.add_parser("add", help="新增人员并授予项目角色 (add a person)")
    padd.add_argument("name", help="姓名")
    padd.add_argument("--site", required=True, help="项目名称或编号")
    padd.add_argument(
        "--role",
        action="append",
        required=True,
        choices=[r.value for r in Role],
        help="角色: inspector 检查员 / responsible 责任人 / manager 经理（可重复）",
    )
    padd.add_argument("--phone", help="手机号")
    padd.add_argument("--wecom-userid", help="企业微信 UserID（绑定后无需邀请码）")
    padd.set_defaults(handler=_person_add)
    plist = person_sub.add_parser("list", help="列出人员 (list people)")
    plist.set_defaults(handler=_person_list)
    pimport = person_sub.add_parser(
        "import",
        help="从员工表导入 (import a staff sheet: 姓名 / 手机 / 项目 / 角色 [/ 企业微信])",
    )
    pimport.add_argument("file", type=Path, help=".xlsx 或 .csv 文件")
    pimport.set_defaults(handler=_person_import)
    leave = person_sub.add_parser(
        "deactivate",
        help="停用离职人员：未完成的整改任务转交他人，解除绑定 (deactivate a leaver)",
    )
    leave.add_argument("person", help="姓名，或人员编号")
    leave.add_argument(
        "--tasks-to", metavar="PERSON", help="接手其未完成整改任务的责任人（姓名或编号）"
    )
    leave.set_defaults(handler=_person_deactivate)

    invite = commands.add_parser("invite", help="邀请码 (invites to bind a chat account)")
    invite_sub = invite.add_subparsers(dest="invite_command", metavar="ACTION", required=True)
    create = invite_sub.add_parser("create", help="生成一次性邀请码 (create a one-use invite)")
    create.add_argument("person", help="姓名，或人员编号（重名时用编号，如 12）")
    create.add_argument("--channel", choices=["telegram", "web"], default="telegram")
    create.add_argument(
        "--days", type=int, default=INVITE_DAYS, help="Telegram 邀请码有效天数 (default 7)"
    )
    create.set_defaults(handler=_invite_create)
    revoke = invite_sub.add_parser("revoke", help="撤销邀请码 (revoke an invite)")
    revoke.add_argument("code")
    revoke.set_defaults(handler=_invite_revoke)

    web_chat = commands.add_parser("web", help="网页聊天登录链接 (web chat sign-in links)")
    web_sub = web_chat.add_subparsers(dest="web_command", metavar="ACTION", required=True)
    web_revoke = web_sub.add_parser(
        "revoke", help="撤销某人的网页链接，立即失效 (revoke a person's web link)"
    )
    web_revoke.add_argument("person", help="姓名，或人员编号")
    web_revoke.set_defaults(handler=_web_revoke)


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CliError(f"未知时区 unknown time zone: {name}") from None
    return name


def _quiet_hours(text: str) -> tuple[str, str]:
    match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)", text.strip())
    if match is None:
        raise CliError("免打扰时段格式应为 21:00-08:00 (quiet hours must look like 21:00-08:00)")
    start, end = text.strip().split("-")
    return start, end


async def company_quiet_hours(tx: Tx) -> tuple[str, str]:
    """A new site's quiet hours: the company's (it follows them until it gets its own)."""
    return (await company_settings.for_site(tx.settings)).quiet_hours


async def find_site(tx: Tx, ref: str) -> Site:
    site = await tx.sites.get(int(ref)) if ref.isdigit() else None
    site = site or await tx.sites.by_name(ref)
    if site is None:
        raise CliError(f"没有这个项目 unknown site: {ref}（先用 pinjian site add 新建）")
    return site


async def find_person(tx: Tx, ref: str) -> Person:
    """An active person by name or id; people who left stay in the records, inactive, and
    are not found (a namesake who left makes no name ambiguous)."""
    if ref.lstrip("#").isdigit():
        person = await tx.people.get(int(ref.lstrip("#")))
        if person is None:
            raise CliError(f"没有编号为 {ref} 的人员 (unknown person id)")
        if not person.active:
            raise CliError(f"#{person.id} {person.name} 已停用 (deactivated)")
        return person
    named = await tx.people.find_by_name(ref)
    matches = [person for person in named if person.active]
    if not matches:
        if named:
            raise CliError(f"{ref} 已停用 (deactivated)")
        raise CliError(f"没有名为 {ref} 的人员 (unknown person)")
    if len(matches) > 1:
        ids = ", ".join(f"{p.id}（{p.phone or '无手机号'}）" for p in matches)
        raise CliError(
            f"有 {len(matches)} 人名为 {ref}，请改用编号: {ids} (ambiguous name; use the id)"
        )
    return matches[0]


def _site_add(args: argparse.Namespace) -> int:
    async def work(db: Database, settings: Settings) -> Site:
        timezone = _timezone(args.timezone or settings.timezone)
        quiet = _quiet_hours(args.quiet_hours) if args.quiet_hours else None
        async with db.transaction() as tx:
            if await tx.sites.by_name(args.name) is not None:
                raise CliError(f"项目 {args.name} 已存在 (site exists)")
            quiet_start, quiet_end = quiet or await company_quiet_hours(tx)
            site = await tx.sites.create(
                args.name,
                timezone=timezone,
                address=args.address,
                quiet_start=quiet_start,
                quiet_end=quiet_end,
            )
            await tx.audit.record(
                "cli", "site.add", target=f"site:{site.id}", details={"name": site.name}
            )
        return site

    site = run_with_db(work)
    print(f"已新建项目 #{site.id} {site.name}（时区 {site.timezone}）")
    return 0


def _site_list(args: argparse.Namespace) -> int:
    async def work(db: Database, settings: Settings) -> list[Site]:
        async with db.read() as tx:
            return await tx.sites.all()

    for site in run_with_db(work):
        print(
            f"#{site.id}\t{site.name}\t{site.timezone}\t免打扰 {site.quiet_start}-{site.quiet_end}"
        )
    return 0


async def _add_person(
    tx: Tx,
    name: str,
    site: Site,
    roles: list[Role],
    phone: str | None,
    wecom_userid: str | None,
) -> Person:
    person = await tx.people.create(name, phone=phone)
    for role in roles:
        await tx.roles.grant(person.id, site.id, role)
    if wecom_userid:
        await _bind_wecom(tx, person, wecom_userid)
    await tx.audit.record(
        "cli",
        "person.add",
        target=f"person:{person.id}",
        details={"site": site.id, "roles": [r.value for r in roles]},
    )
    return person


async def _bind_wecom(tx: Tx, person: Person, userid: str) -> None:
    """Bind a WeCom UserID (its app chat is the member itself); one per person."""
    for identity in await tx.identities.for_person(person.id):
        if identity.channel is Channel.WECOM and identity.external_id != userid:
            raise CliError(
                f"{person.name} 已绑定企业微信账号 {identity.external_id}，不能再绑定 {userid}"
                " (already bound to another WeCom UserID)"
            )
    try:
        await tx.identities.bind(person.id, Channel.WECOM, userid, chat_id=userid)
    except IdentityInUse:
        raise CliError(
            f"企业微信账号 {userid} 已绑定其他人员 (WeCom UserID bound to someone else)"
        ) from None


def _person_add(args: argparse.Namespace) -> int:
    name = args.name.strip()
    if not name:
        raise CliError("姓名不能为空 (name is empty)")

    async def work(db: Database, settings: Settings) -> tuple[Person, Site, int]:
        async with db.transaction() as tx:
            site = await find_site(tx, args.site)
            namesakes = sum(p.active for p in await tx.people.find_by_name(name))
            roles = [Role(r) for r in dict.fromkeys(args.role)]
            person = await _add_person(tx, name, site, roles, args.phone, args.wecom_userid)
        return person, site, namesakes

    person, site, namesakes = run_with_db(work)
    print(f"已新增 #{person.id} {person.name}，项目 {site.name}，角色 {'、'.join(args.role)}")
    if namesakes:
        print(f"注意：已有 {namesakes} 人同名，生成邀请时请用编号 {person.id}")
    return 0


def _person_deactivate(args: argparse.Namespace) -> int:
    from bot.flows.leavers import CannotDeactivate, Deactivated, deactivate

    async def work(db: Database, settings: Settings) -> tuple[Person, Person | None, Deactivated]:
        async with db.transaction() as tx:
            person = await find_person(tx, args.person)
            heir = await find_person(tx, args.tasks_to) if args.tasks_to else None
            try:
                done = await deactivate(tx, person, heir, tx.now())
            except CannotDeactivate as exc:
                raise CliError(f"未停用 not deactivated: {exc}") from None
            details = {"tasks": [t.id for t in done.handed_over], "to": heir.id if heir else None}
            await tx.audit.record(
                "cli", "person.deactivate", target=f"person:{person.id}", details=details
            )
        return person, heir, done

    person, heir, done = run_with_db(work)
    print(
        f"已停用 #{person.id} {person.name}：解除 {done.roles} 个项目角色、"
        f"{done.chats} 个聊天绑定 (deactivated)"
    )
    if heir is not None and done.handed_over:
        told = "已通知" if done.notified else "对方尚未绑定聊天，未能通知"
        ids = "、".join(f"#{t.id}" for t in done.handed_over)
        print(f"{len(done.handed_over)} 项整改任务转交 {heir.name}（{ids}），{told}")
    return 0


def _person_list(args: argparse.Namespace) -> int:
    async def work(db: Database, settings: Settings) -> list[tuple[Person, str]]:
        rows = []
        async with db.read() as tx:
            for person in await tx.people.all():
                grants = await tx.roles.for_person(person.id)
                parts = []
                for grant in grants:
                    site = await tx.sites.get(grant.site_id)
                    parts.append(f"{site.name if site else grant.site_id}:{grant.role.value}")
                rows.append((person, ", ".join(parts)))
        return rows

    for person, roles in run_with_db(work):
        print(f"#{person.id}\t{person.name}\t{person.phone or '-'}\t{roles}")
    return 0


@dataclass(frozen=True)
class StaffRow:
    line: int
    name: str
    phone: str | None
    site: str
    roles: list[Role]
    wecom_userid: str | None


def _read_sheet(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise CliError(f"文件不存在 file not found: {path}")
    if path.suffix.lower() == ".csv":
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                return [[cell.strip() for cell in row] for row in csv.reader(handle)]
        except UnicodeDecodeError:
            raise CliError("CSV 文件请保存为 UTF-8 编码 (save the CSV as UTF-8)") from None
    if path.suffix.lower() == ".xlsx":
        import zipfile

        from openpyxl import load_workbook
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError):
            raise CliError(f"不是有效的 Excel 文件 not a readable .xlsx: {path}") from None
        try:
            sheet = workbook.worksheets[0]
            return [
                ["" if v is None else str(v).strip() for v in row]
                for row in sheet.iter_rows(values_only=True)
            ]
        finally:
            workbook.close()
    raise CliError("只支持 .xlsx 或 .csv 文件 (only .xlsx or .csv)")


def parse_staff(rows: list[list[str]]) -> tuple[list[StaffRow], list[str]]:
    """Rows of 姓名 / 手机 / 项目 / 角色 and optionally the WeCom UserID (column 企业微信,
    企业微信账号 or UserID); header row required, columns in any order."""
    header_index = next(
        (i for i, row in enumerate(rows) if "姓名" in row and "项目" in row and "角色" in row), None
    )
    if header_index is None:
        return [], ["找不到表头：需要 姓名 / 手机 / 项目 / 角色 (no header row)"]
    header = rows[header_index]
    col: dict[str, int] = {
        name: header.index(name) for name in ("姓名", "手机", "项目", "角色") if name in header
    }
    wecom = next((name for name in WECOM_COLUMNS if name in header), None)
    if wecom is not None:
        col["企业微信"] = header.index(wecom)
    staff: list[StaffRow] = []
    problems: list[str] = []
    for offset, row in enumerate(rows[header_index + 1 :], start=header_index + 2):

        def cell(name: str, row: list[str] = row) -> str:
            index = col.get(name)
            return row[index].strip() if index is not None and index < len(row) else ""

        if not any(cell(n) for n in col):
            continue
        words = [w for w in re.split(r"[、,，/;；\s]+", cell("角色")) if w]
        roles = [ROLE_WORDS.get(w.lower()) for w in words]
        userid = cell("企业微信")
        if not cell("姓名") or not cell("项目"):
            problems.append(f"第{offset}行：缺少姓名或项目")
        elif not words or None in roles:
            problems.append(f"第{offset}行：角色「{cell('角色')}」无法识别（检查员/责任人/经理）")
        elif userid and not WECOM_USERID.fullmatch(userid):
            problems.append(
                f"第{offset}行：企业微信账号「{userid}」无效（字母、数字或 _-@.，最多 64 个）"
            )
        else:
            known = [r for r in roles if r is not None]
            phone = cell("手机") or None
            staff.append(StaffRow(offset, cell("姓名"), phone, cell("项目"), known, userid or None))
    return staff, problems


def _person_import(args: argparse.Namespace) -> int:
    staff, problems = parse_staff(_read_sheet(args.file))
    if problems:
        raise CliError("员工表有误，未导入任何人 (nothing imported):\n  " + "\n  ".join(problems))

    async def work(db: Database, settings: Settings) -> tuple[int, int, list[str]]:
        created = updated = 0
        new_sites: list[str] = []
        async with db.transaction() as tx:
            for row in staff:
                site = await tx.sites.by_name(row.site)
                if site is None:
                    start, end = await company_quiet_hours(tx)
                    site = await tx.sites.create(
                        row.site, timezone=settings.timezone, quiet_start=start, quiet_end=end
                    )
                    new_sites.append(row.site)
                same = [
                    p
                    for p in await tx.people.find_by_name(row.name)
                    if p.phone == row.phone and p.active  # one who left comes back as new
                ]
                if same:
                    for role in row.roles:
                        await tx.roles.grant(same[0].id, site.id, role)
                    if row.wecom_userid:
                        await _bind_wecom(tx, same[0], row.wecom_userid)
                    updated += 1
                else:
                    await _add_person(tx, row.name, site, row.roles, row.phone, row.wecom_userid)
                    created += 1
            await tx.audit.record("cli", "person.import", details={"file": args.file.name})
        return created, updated, new_sites

    created, updated, new_sites = run_with_db(work)
    print(
        f"已导入：新增 {created} 人，更新 {updated} 人 (imported {created} new, {updated} updated)"
    )
    if new_sites:
        print(f"新建了项目：{'、'.join(new_sites)}")
    return 0


def _invite_create(args: argparse.Namespace) -> int:
    if args.channel == "web":
        return _web_link(args)
    if not 1 <= args.days <= 90:
        raise CliError("有效天数应在 1 到 90 之间 (--days must be 1..90)")

    async def work(db: Database, settings: Settings) -> tuple[Person, str, str]:
        code = secrets.token_urlsafe(16)
        async with db.transaction() as tx:
            person = await find_person(tx, args.person)
            await tx.invites.create(
                code,
                person.id,
                expires_at=tx.now() + timedelta(days=args.days),
                channel=Channel(args.channel),
            )
            await tx.audit.record("cli", "invite.create", target=f"person:{person.id}")
        link = await _telegram_link(settings, code) if args.channel == "telegram" else ""
        return person, code, link

    person, code, link = run_with_db(work)
    print(f"{person.name}（#{person.id}）的邀请码，{args.days} 天内有效，只能使用一次：")
    print(code)
    if link:
        print(f"Telegram 链接：{link}")
    return 0


async def _telegram_link(settings: Settings, code: str) -> str:
    username = settings.telegram_bot_username
    if not username and settings.telegram_token is not None:
        from telegram import Bot
        from telegram.error import TelegramError

        bot = Bot(
            settings.telegram_token.get_secret_value(),
            base_url=settings.telegram_api_url,
            base_file_url=settings.telegram_file_url,
        )
        try:
            async with bot:
                username = bot.username
        except TelegramError:
            username = ""
    if not username:
        hint = "（设置 PINJIAN_TELEGRAM_BOT_USERNAME 后会显示完整链接）"
        return f"https://t.me/<机器人用户名>?start={code}{hint}"
    return f"https://t.me/{username}?start={code}"


def _web_link(args: argparse.Namespace) -> int:
    """A web link is a login of its own: no invite to redeem; a new link revokes the old."""
    from bot.handlers.web.links import issue_login, login_link

    async def work(db: Database, settings: Settings) -> tuple[Person, str]:
        async with db.transaction() as tx:
            person = await find_person(tx, args.person)
            token = await issue_login(tx, person)
            await tx.audit.record("cli", "web.link", target=f"person:{person.id}")
        return person, login_link(
            settings.http_host, settings.http_port, token, settings.public_url
        )

    person, link = run_with_db(work)
    print(f"{person.name}（#{person.id}）的网页聊天链接，打开即登录；请只发给本人：")
    print(link)
    print("每人只有一个有效的网页链接，旧链接已失效；撤销用 pinjian web revoke 姓名")
    return 0


def _web_revoke(args: argparse.Namespace) -> int:
    from bot.handlers.web.links import revoke_logins

    async def work(db: Database, settings: Settings) -> tuple[Person, int]:
        async with db.transaction() as tx:
            person = await find_person(tx, args.person)
            revoked = await revoke_logins(tx, person.id)
            if revoked:
                await tx.audit.record("cli", "web.revoke", target=f"person:{person.id}")
        return person, revoked

    person, revoked = run_with_db(work)
    if not revoked:
        raise CliError(f"{person.name} 没有有效的网页链接 (no active web link)")
    print(f"已撤销 {person.name} 的网页链接，立即失效 (web link revoked)")
    return 0


def _invite_revoke(args: argparse.Namespace) -> int:
    async def work(db: Database, settings: Settings) -> bool:
        async with db.transaction() as tx:
            done = await tx.invites.revoke(args.code)
            if done:
                await tx.audit.record("cli", "invite.revoke", target=args.code[:6])
            return done

    if not run_with_db(work):
        raise CliError("没有这个有效的邀请码 (no such active invite)")
    print("邀请码已撤销 (invite revoked)")
    return 0
