"""Sending within Telegram's limits: a digest to 1,000 people, and a burst to one person.

The fake Bot API answers 429 "Too Many Requests: retry after N" beyond 30 messages a second
overall and 1 a second per chat (the limits Telegram documents). The real outbox worker and
Telegram adapter (with python-telegram-bot's AIORateLimiter) deliver the queued messages; the
benchmark reports how long that took against the fastest the limits allow, how many 429s the
bot provoked, the highest number of sends in any one second, and that every message arrived
once and in order.

    .venv/bin/python -m bench.bench_sending [--people 1000] [--burst 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot.core.messages import Outgoing
from bot.delivery import OutboxWorker
from bot.flows.catalog import StandardsCatalog
from bot.flows.context import FlowSettings
from bot.flows.router import FlowEngine
from bot.handlers.telegram import TelegramChannel
from storage.db import Database
from storage.evidence import FileEvidenceStore
from storage.migrate import upgrade
from storage.records import Channel, OutboxKind
from tests.fakes.telegram_api import FakeTelegramAPI

FIRST_CHAT = 300_000


async def queue(db: Database, people: int, burst: int) -> int:
    """One digest line per person, then `burst` messages to the first person."""
    async with db.transaction() as tx:
        for n in range(people):
            text = f"<b>品质周报</b> 第{n}人"
            payload = Outgoing(kind=OutboxKind.SEND, text=text).to_payload()
            await tx.outbox.enqueue(Channel.TELEGRAM, str(FIRST_CHAT + n), OutboxKind.SEND, payload)
        for n in range(burst):
            payload = Outgoing(kind=OutboxKind.SEND, text=f"提醒 {n}").to_payload()
            await tx.outbox.enqueue(Channel.TELEGRAM, str(FIRST_CHAT), OutboxKind.SEND, payload)
    return people + burst


async def run(people: int, burst: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'pinjian.db'}"
        await upgrade(url)
        db = Database(url, files=FileEvidenceStore(Path(tmp) / "ev", max_bytes=1_000_000))
        await db.open()
        total = await queue(db, people, burst)
        async with FakeTelegramAPI(strict_html=False) as fake:
            for n in range(people):
                fake.user(FIRST_CHAT + n, f"员工{n}")
            fake.flood_limits(per_chat_per_sec=1, global_per_sec=30)
            engine = FlowEngine(
                db, StandardsCatalog.load(None), FlowSettings(), lambda: datetime.now(UTC)
            )
            channel = TelegramChannel(
                token=fake.token,
                api_url=fake.base_url,
                file_url=fake.base_file_url,
                engine=engine,
                db=db,
                files=db.files,
            )
            await channel.application.initialize()
            worker = OutboxWorker(
                db, Channel.TELEGRAM, channel.send, clock=lambda: datetime.now(UTC)
            )
            began = time.perf_counter()
            worker.start()
            sent = lambda: fake.calls("sendMessage", ok=True)  # noqa: E731
            await fake.wait_for(lambda: len(sent()) >= total, timeout=3600)
            elapsed = time.perf_counter() - began
            await worker.stop()
            await channel.application.shutdown()
            per_second = Counter(int(call.at) for call in sent())
            burst_texts = [c.params["text"] for c in sent() if c.params["chat_id"] == FIRST_CHAT]
            in_order = burst_texts[1:] == [f"提醒 {n}" for n in range(burst)]
            once = len(sent()) == total
            flood_hits = fake.flood_hits
        await db.close()
    fastest = max(total / 30, burst)
    return {
        "messages": total,
        "elapsed": elapsed,
        "fastest": fastest,
        "hits": flood_hits,
        "peak": max(per_second.values()),
        "ok": float(in_order and once),
    }


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=20)
    args = parser.parse_args(argv)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; date {datetime.now(UTC):%Y-%m-%d}"
    )
    result = await run(args.people, args.burst)
    print()
    print(
        "| messages | time (s) | fastest the limits allow (s) | 429 answers | peak sends/s | "
        "all once, in order |"
    )
    print("|---:|---:|---:|---:|---:|---|")
    print(
        f"| {result['messages']:.0f} | {result['elapsed']:.1f} | {result['fastest']:.1f} | "
        f"{result['hits']:.0f} | {result['peak']:.0f} | {'yes' if result['ok'] else 'NO'} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
