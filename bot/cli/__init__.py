"""The `pinjian` command: one sub-command group per module, each registering its own parsers."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bot.cli import (
    admin_cmd,
    audit_cmd,
    db_cmd,
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
from bot.handlers.web import demo

GROUPS = (
    run_cmd,
    db_cmd,
    admin_cmd,
    structure_cmd,
    plan_cmd,
    kpi_cmd,
    reminders_cmd,
    standards_cmd,
    report_cmd,
    settings_cmd,
    audit_cmd,
    demo,
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
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code: int = args.handler(args)
    except (CliError, ConfigError) as exc:
        print(f"pinjian: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
