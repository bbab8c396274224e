"""`pinjian run`: start the bot with every channel whose settings are present."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli.common import SubParsers
from bot.config import load_settings


def register(commands: SubParsers) -> None:
    run = commands.add_parser(
        "run",
        help="启动机器人 (start the bot: web chat, and Telegram / WeCom when configured)",
        description=(
            "启动品检机器人。已配置的渠道都会启动：内置网页聊天（默认 http://127.0.0.1:8080），"
            "设置了 PINJIAN_TELEGRAM_TOKEN 时启动 Telegram，设置了企业微信参数时启动企业微信回调。"
            "按 Ctrl-C 或发送 SIGTERM 可安全停止，未发出的消息会保留到下次启动。"
        ),
    )
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from bot.app import serve

    settings = load_settings()
    return asyncio.run(serve(settings))
