"""`pinjian reminders preview|run-once [--at DATETIME]`: what the reminder sweep would send,
or one sweep as of a given time (for operations and tests)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.cli.common import CliError, SubParsers
from bot.cli.dbctx import run_with_db
from bot.config import Settings
from bot.flows.reminder_sweep import ReminderSweeper, SweepReport
from storage.db import Database


def register(commands: SubParsers) -> None:
    group = commands.add_parser("reminders", help="整改提醒：预览或立即执行一次 (reminders)")
    sub = group.add_subparsers(dest="reminders_command", metavar="ACTION", required=True)
    for name, text in (
        ("preview", "列出将要发送的提醒及对象，不发送 (list what would be sent)"),
        ("run-once", "立即执行一次提醒扫描 (run one sweep now)"),
    ):
        action = sub.add_parser(name, help=text)
        action.add_argument(
            "--at",
            help="按此时间计算，如 2026-12-01T09:00（公司时区）；默认现在",
        )
        action.set_defaults(handler=_run, preview=name == "preview")


def _moment(text: str | None, timezone: str) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"看不懂时间 {text}，请用 2026-12-01T09:00 这样的格式") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC)


def _run(args: argparse.Namespace) -> int:
    async def work(db: Database, settings: Settings) -> tuple[SweepReport, dict[int, str]]:
        moment = _moment(args.at, settings.timezone)
        sweeper = ReminderSweeper(db, lambda: moment)
        report = await (sweeper.preview() if args.preview else sweeper.sweep())
        names = {}
        async with db.read() as tx:
            for person_id in report.messages:
                person = await tx.people.get(person_id)
                names[person_id] = person.name if person else f"#{person_id}"
        return report, names

    report, names = run_with_db(work)
    verb = "将发送" if args.preview else "已发送"
    if not report.messages:
        print(f"没有到期的提醒 (nothing due); 推迟 {report.deferred} 条（免打扰时段）")
        return 0
    for person_id, lines in report.messages.items():
        print(f"{verb}给 {names[person_id]}：")
        for line in lines:
            print(f"  - {line}")
    print(f"合计 {report.sent} 条提醒，推迟 {report.deferred} 条，作废 {report.dropped} 条")
    return 0
