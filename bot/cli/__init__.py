"""The `pinjian` command: one sub-command group per module, each registering its own parsers."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bot.cli import (
    admin_cmd,
    audit_cmd,
    bulletin_cmd,
    db_cmd,
    demo_cmd,
    group_cmd,
    inspection_cmd,
    kpi_cmd,
    plan_cmd,
    reminders_cmd,
    report_cmd,
    run_cmd,
    settings_cmd,
    standards_cmd,
    structure_cmd,
)
from bot.cli.common import CliError
from bot.config import ConfigError
from bot.core.unicode import well_formed

GROUPS = (
    run_cmd,
    db_cmd,
    admin_cmd,
    structure_cmd,
    group_cmd,
    plan_cmd,
    kpi_cmd,
    bulletin_cmd,
    reminders_cmd,
    standards_cmd,
    report_cmd,
    inspection_cmd,
    settings_cmd,
    audit_cmd,
    demo_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pinjian",
        description=(
            "品检 Pinjian — 物业服务品质检查助手。"
            " Runs the inspection bot and manages its sites, people, standards and database."
        ),
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ill_formed = _ill_formed_argument(args)
    if ill_formed is not None:
        print(
            f"pinjian: 参数 {ill_formed} 含有无法保存的字符（孤立代理项或 NUL），未做任何更改"
            " (ill-formed text: a lone surrogate or NUL)",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code: int = args.handler(args)
    except (CliError, ConfigError) as exc:
        print(f"pinjian: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


def _ill_formed_argument(args: argparse.Namespace) -> str | None:
    """The name of the first text argument holding what no database can store (a lone
    surrogate, as a non-UTF-8 byte on the command line becomes, or a NUL), else None."""
    for name, value in vars(args).items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and not well_formed(v) for v in values):
            return name
    return None
