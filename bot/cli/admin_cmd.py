"""`pinjian site|person|invite …`: the admin's way to set up sites, people and their access."""

from __future__ import annotations

import argparse
import csv
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.cli import structure_cmd
from bot.cli.common import CliError, SubParsers
from bot.cli.dbctx import run_with_db
from bot.cli.grants import LEVELS, Scope, grant_role, scope_of

# Re-exported: other commands import these two from this module.
from bot.cli.lookup import find_person as find_person
from bot.cli.lookup import find_region
from bot.cli.lookup import find_site as find_site
from bot.config import Settings
from bot.core import company_settings
from bot.core.unicode import well_formed
from storage.db import Database, Tx
from storage.errors import IdentityInUse
from storage.records import Channel, Person, Region, Role, Site

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
LEVEL_COLUMNS = ("级别", "层级", "角色级别")
# WeCom's rule for a UserID: 1-64 letters, digits and _-@., starting with a letter or digit.
WECOM_USERID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


def register(commands: SubParsers) -> None:
    site = commands.add_parser("site", help="项目（小区）管理 (sites)")
    site_sub = site.add_subparsers(dest="site_command", metavar="ACTION", required=True)
    add = site_sub.add_parser("add", help="新建项目 (add a site)")
    add.add_argument("name", help="项目名称")
    add.add_argument("--timezone", default=None, help="时区，默认取 PINJIAN_TIMEZONE")
    add.add_argument("--region", default=None, help="所属区域（名称或编号）")
    add.add_argument("--address", default="", help="地址")
    add.add_argument(
        "--quiet-hours",
        default=None,
        help="免打扰时段，如 21:00-08:00（默认：公司的）",
    )
    add.set_defaults(handler=_site_add)
    listing = site_sub.add_parser("list", help="列出项目 (list sites)")
    listing.set_defaults(handler=_site_list)
    structure_cmd.register_site(site_sub)

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
    structure_cmd.register_person(person_sub)

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


def _site_add(args: argparse.Namespace) -> int:
    async def work(db: Database, settings: Settings) -> tuple[Site, Region | None]:
        timezone = _timezone(args.timezone or settings.timezone)
        quiet = _quiet_hours(args.quiet_hours) if args.quiet_hours else None
        async with db.transaction() as tx:
            if await tx.sites.by_name(args.name) is not None:
                raise CliError(f"项目 {args.name} 已存在 (site exists)")
            region = await find_region(tx, args.region) if args.region is not None else None
            quiet_start, quiet_end = quiet or await company_quiet_hours(tx)
            site = await tx.sites.create(
                args.name,
                timezone=timezone,
                address=args.address,
                quiet_start=quiet_start,
                quiet_end=quiet_end,
                region_id=region.id if region else None,
            )
            await tx.audit.record(
                "cli",
                "site.add",
                target=f"site:{site.id}",
                details={"name": site.name, "region": site.region_id},
            )
        return site, region

    site, region = run_with_db(work)
    where = f"，{region.name}区域" if region else ""
    print(f"已新建项目 #{site.id} {site.name}（时区 {site.timezone}{where}）")
    return 0


def _site_list(args: argparse.Namespace) -> int:
    async def work(db: Database, settings: Settings) -> tuple[list[Site], dict[int, str]]:
        async with db.read() as tx:
            return await tx.sites.all(), {r.id: r.name for r in await tx.regions.all()}

    sites, regions = run_with_db(work)
    for site in sites:
        region = regions.get(site.region_id, "-") if site.region_id else "-"
        print(
            f"#{site.id}\t{site.name}\t{region}\t{site.timezone}"
            f"\t免打扰 {site.quiet_start}-{site.quiet_end}"
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
        print("若是同一个人，给已有人员加角色请用 pinjian person role add（无需重复新增）")
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
                    scope = await scope_of(tx, grant)
                    parts.append(f"{scope.label()}:{grant.role.value}")
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
    region: str = ""
    level: str = "site"
    """Where the roles are held: "site" (the row's 项目), "region" (its 区域) or "company"."""


def _read_sheet(path: Path) -> list[list[str]]:
    rows = _sheet_rows(path)
    for number, row in enumerate(rows, start=1):
        if not all(well_formed(cell) for cell in row):
            raise CliError(
                f"第{number}行含有无法保存的字符（孤立代理项或 NUL），未导入任何人"
                f" (ill-formed text in row {number}, nothing imported)"
            )
    return rows


def _sheet_rows(path: Path) -> list[list[str]]:
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
    """Rows of 姓名 / 手机 / 项目 / 角色, optionally 区域 (the site's region), a level column
    (级别: 项目 / 区域 / 公司, where the roles are held; default 项目) and the WeCom UserID
    (column 企业微信, 企业微信账号 or UserID); header row required, columns in any order."""
    header_index = next(
        (
            i
            for i, row in enumerate(rows)
            if "姓名" in row and "角色" in row and ("项目" in row or "区域" in row)
        ),
        None,
    )
    if header_index is None:
        return [], ["找不到表头：需要 姓名 / 手机 / 项目 / 角色 (no header row)"]
    header = rows[header_index]
    col: dict[str, int] = {
        name: header.index(name)
        for name in ("姓名", "手机", "项目", "角色", "区域")
        if name in header
    }
    for column, names in (("企业微信", WECOM_COLUMNS), ("级别", LEVEL_COLUMNS)):
        found = next((name for name in names if name in header), None)
        if found is not None:
            col[column] = header.index(found)
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
        level = LEVELS.get(cell("级别") or "项目")
        if not cell("姓名"):
            problems.append(f"第{offset}行：缺少姓名或项目")
        elif level is None:
            problems.append(f"第{offset}行：级别「{cell('级别')}」无法识别（项目/区域/公司）")
        elif level == "site" and not cell("项目"):
            problems.append(f"第{offset}行：缺少姓名或项目")
        elif level == "region" and not cell("区域"):
            problems.append(f"第{offset}行：区域级角色须填写区域")
        elif not words or None in roles:
            problems.append(f"第{offset}行：角色「{cell('角色')}」无法识别（检查员/责任人/经理）")
        elif userid and not WECOM_USERID.fullmatch(userid):
            problems.append(
                f"第{offset}行：企业微信账号「{userid}」无效（字母、数字或 _-@.，最多 64 个）"
            )
        else:
            known = [r for r in roles if r is not None]
            phone = cell("手机") or None
            staff.append(
                StaffRow(
                    offset,
                    cell("姓名"),
                    phone,
                    cell("项目"),
                    known,
                    userid or None,
                    region=cell("区域"),
                    level=level,
                )
            )
    return staff, problems


@dataclass
class Imported:
    created: int = 0
    updated: int = 0
    new_sites: list[str] = field(default_factory=list)
    new_regions: list[str] = field(default_factory=list)


async def _known_person(tx: Tx, row: StaffRow) -> Person | None:
    """The person the row describes, if already known: by phone, then by WeCom UserID,
    then by a unique active name that no phone on either side contradicts. A phone or
    UserID that belongs to someone of another name is refused, not guessed."""
    if row.phone:
        same = await tx.people.by_phone(row.phone)
        if len(same) > 1:
            raise CliError(f"第{row.line}行：手机 {row.phone} 对应多人，请先核对 (ambiguous phone)")
        if same:
            if same[0].name != row.name:
                raise CliError(
                    f"第{row.line}行：手机 {row.phone} 已属于 #{same[0].id} {same[0].name}，"
                    f"与姓名 {row.name} 不符 (phone belongs to someone else)"
                )
            return same[0]
    if row.wecom_userid:
        bound = await tx.identities.resolve(Channel.WECOM, row.wecom_userid)
        if bound is not None:
            person = bound[1]
            if person.name != row.name:
                raise CliError(
                    f"第{row.line}行：企业微信账号 {row.wecom_userid} 已绑定其他人员"
                    f"（#{person.id} {person.name}），与姓名 {row.name} 不符"
                )
            return person
    namesakes = [p for p in await tx.people.find_by_name(row.name) if p.active]
    if len(namesakes) == 1 and not (row.phone and namesakes[0].phone):
        return namesakes[0]
    return None


async def _import_scope(tx: Tx, row: StaffRow, settings: Settings, done: Imported) -> Scope:
    """Where the row's roles are held; creates the regions and sites it names that do not
    exist yet, and puts a site without a region into the row's region."""
    region = await tx.regions.by_name(row.region) if row.region else None
    if row.region and region is None:
        region = await tx.regions.create(row.region)
        done.new_regions.append(row.region)
    site = await tx.sites.by_name(row.site) if row.site else None
    if row.site and site is None:
        start, end = await company_quiet_hours(tx)
        site = await tx.sites.create(
            row.site,
            timezone=settings.timezone,
            region_id=region.id if region else None,
            quiet_start=start,
            quiet_end=end,
        )
        done.new_sites.append(row.site)
    if site is not None and region is not None and site.region_id != region.id:
        if site.region_id is not None:
            other = await tx.regions.get(site.region_id)
            raise CliError(
                f"第{row.line}行：项目 {site.name} 属于 {other.name if other else '其他'} 区域，"
                f"表中为 {region.name}（用 pinjian site set 调整）"
            )
        site = await tx.sites.set_region(site.id, region.id)
    if row.level == "company":
        return Scope()
    if row.level == "region":
        return Scope(region=region)
    return Scope(site=site)


async def _import_row(tx: Tx, row: StaffRow, settings: Settings, done: Imported) -> None:
    scope = await _import_scope(tx, row, settings, done)
    person = await _known_person(tx, row)
    if person is None:
        person = await tx.people.create(row.name, phone=row.phone)
        await tx.audit.record(
            "cli",
            "person.add",
            target=f"person:{person.id}",
            details={**scope.audit(), "roles": [r.value for r in row.roles]},
        )
        done.created += 1
    else:
        if row.phone and person.phone != row.phone:
            person = await tx.people.update(person.id, phone=row.phone)
        done.updated += 1
    for role in row.roles:
        await grant_role(tx, person, role, scope, covered_ok=True)
    if row.wecom_userid:
        await _bind_wecom(tx, person, row.wecom_userid)


def _person_import(args: argparse.Namespace) -> int:
    staff, problems = parse_staff(_read_sheet(args.file))
    if problems:
        raise CliError("员工表有误，未导入任何人 (nothing imported):\n  " + "\n  ".join(problems))

    async def work(db: Database, settings: Settings) -> Imported:
        done = Imported()
        async with db.transaction() as tx:
            for row in staff:
                await _import_row(tx, row, settings, done)
            await tx.audit.record(
                "cli",
                "person.import",
                details={"file": args.file.name, "created": done.created, "updated": done.updated},
            )
        return done

    done = run_with_db(work)
    print(
        f"已导入：新增 {done.created} 人，更新 {done.updated} 人"
        f" (imported {done.created} new, {done.updated} updated)"
    )
    if done.new_regions:
        print(f"新建了区域：{'、'.join(done.new_regions)}")
    if done.new_sites:
        print(f"新建了项目：{'、'.join(done.new_sites)}")
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
