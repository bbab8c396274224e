"""`pinjian bulletin`: the monthly 品质检查通报 of the company or a region as an Excel or PDF
file (docs/REPORTS.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.bulletins import BulletinFile, bulletin_file
from bot.cli.common import CliError, SubParsers
from bot.cli.dbctx import run_with_db
from bot.config import Settings
from bot.core.kpi import parse_month
from bot.core.report_request import ReportFormat
from storage.db import Database


def register(commands: SubParsers) -> None:
    bulletin = commands.add_parser("bulletin", help="月度品质检查通报 (monthly bulletin file)")
    bulletin.add_argument("--month", required=True, help="月份 YYYY-MM")
    bulletin.add_argument("--region", help="只发这个区域的通报（默认全公司）")
    bulletin.add_argument("--format", required=True, choices=("xlsx", "pdf"), help="文件格式")
    bulletin.add_argument("--out", type=Path, help="输出文件（默认当前目录下的通报文件名）")
    bulletin.set_defaults(handler=_bulletin)


def _bulletin(args: argparse.Namespace) -> int:
    period = parse_month(args.month)
    if period is None or len(args.month.strip()) != 7:
        raise CliError(f"月份格式应为 YYYY-MM: {args.month} (month must be YYYY-MM)")

    async def work(db: Database, settings: Settings) -> BulletinFile:
        region_id = None
        if args.region is not None:
            async with db.read() as tx:
                region = await tx.regions.by_name(args.region)
            if region is None:
                raise CliError(f"没有这个区域: {args.region} (unknown region)")
            region_id = region.id
        return await bulletin_file(db, period, region_id, ReportFormat(args.format))

    made = run_with_db(work)
    out: Path = args.out or Path(made.name)
    try:
        out.write_bytes(made.data)
    except OSError as exc:
        raise CliError(f"无法写入 {out}: {exc.strerror} (cannot write the file)") from None
    print(f"已生成 {out}（{len(made.data) // 1024 + 1} KB）")
    return 0
