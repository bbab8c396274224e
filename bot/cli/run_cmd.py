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


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (every platform but Windows), else asyncio's.

    Kept for the speed goal "paced load, 300 inspectors: bot-side p99 < 50 ms"
    (docs/BENCHMARKS.md). asyncio's own loop and socket transports are Python code, and a tap
    passes through them a few dozen times (the update, three Bot API calls, the database's
    round trips): about a sixth of the bot's CPU per tap. uvloop, by asyncpg's authors, runs
    the same asyncio API on libuv in C; everything above the loop is unchanged."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _run(args: argparse.Namespace) -> int:
    from bot.app import serve

    settings = load_settings()
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(serve(settings))
