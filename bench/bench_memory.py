"""Memory with many paused inspections and open tasks: the bot keeps state in the database,
so its resident memory after start-up (and after its first reminder sweep) should not grow
with them.

    .venv/bin/python -m bench.bench_memory      # (0, 0), (1,000, 10,000), (10,000, 100,000)

Each row: a temporary SQLite database with that many paused inspections (each with 30 answers
and a conversation parked on its next item) and open tasks with planned reminders, then a real
`pinjian run` process; RSS is read from /proc 3 s after /healthz answers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.bench_reminders import NOW, _insert, load, start_bot
from standards.loader import BUILTIN_DIR, load_file
from storage.db import Database
from storage.migrate import upgrade
from storage.records import Channel, InspectionStatus
from storage.tables import answers, conversations, inspections

STANDARD = load_file(BUILTIN_DIR / "community-culture.yaml")
ANSWERED = 30


async def paused(db: Database, count: int) -> None:
    if not count:
        return
    async with db.transaction() as tx:
        stored = await tx.standards.ensure(
            std_id=STANDARD.id,
            version=STANDARD.version,
            title=STANDARD.title,
            content_hash=STANDARD.content_hash(),
            snapshot=STANDARD.to_json_dict(),
        )
    inspectors = [p for p in range(1, 2001) if p % 10 != 0]
    await _insert(
        db,
        inspections,
        [
            {
                "site_id": n % 200 + 1,
                "standard_id": stored.id,
                "std_id": STANDARD.id,
                "inspector_id": inspectors[n % len(inspectors)],
                "status": InspectionStatus.PAUSED,
                "channel": Channel.TELEGRAM,
                "cursor_item_no": ANSWERED + 1,
                "started_at": NOW,
                "paused_at": NOW,
                "updated_at": NOW,
            }
            for n in range(count)
        ],
    )
    await _insert(
        db,
        answers,
        [
            {
                "inspection_id": n + 1,
                "item_no": item,
                "score": 1.0,
                "max_score": 1.0,
                "not_applicable": False,
                "level_label": "符合",
                "details": {},
                "answered_by": inspectors[n % len(inspectors)],
                "answered_at": NOW,
                "revision": 1,
            }
            for n in range(count)
            for item in range(1, ANSWERED + 1)
        ],
    )
    await _insert(
        db,
        conversations,
        [
            {
                "person_id": inspectors[n % len(inspectors)],
                "channel": Channel.WEB,
                "chat_id": f"c{n}",
                "state": {"mode": "idle", "screen": 40},
                "version": 1,
                "updated_at": NOW,
            }
            for n in range(count)
        ],
    )


async def measure(inspection_count: int, task_count: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        url = f"sqlite+aiosqlite:///{data_dir / 'pinjian.db'}"
        await upgrade(url)
        db = Database(url, clock=lambda: NOW)
        await db.open()
        await load(db, task_count, 0, random.Random(3))
        await paused(db, inspection_count)
        await db.close()
        start_bot(data_dir)
        runs = [start_bot(data_dir) for _ in range(3)]
        return sorted(s for s, _ in runs)[1], sorted(r for _, r in runs)[1]


async def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; date {datetime.now(UTC):%Y-%m-%d}"
    )
    print()
    print("| paused inspections | open tasks | start-up (s) | RSS (MB) |")
    print("|---:|---:|---:|---:|")
    for inspection_count, task_count in ((0, 0), (1_000, 10_000), (10_000, 100_000)):
        startup, rss = await measure(inspection_count, task_count)
        print(f"| {inspection_count:,} | {task_count:,} | {startup:.2f} | {rss:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
