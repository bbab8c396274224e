"""Reminder benchmark: 100,000 open tasks. Times one reminder sweep, the daily overdue check,
and the bot's start-up (a real `pinjian run` process, until /healthz answers) and its memory,
with and without the tasks, to show start-up does not grow with the number of tasks (one
warm-up start first, so that both rows read the database file from the page cache).

    .venv/bin/python -m bench.bench_reminders                 # 100,000 tasks
    .venv/bin/python -m bench.bench_reminders --tasks 20000   # smaller

Runs against a temporary SQLite file; prints Markdown for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.core.reminders import ReminderPolicy, plan
from bot.flows.reminder_sweep import ReminderSweeper
from storage.db import Database
from storage.evidence import FileEvidenceStore
from storage.migrate import upgrade
from storage.records import Channel, Role, TaskStatus
from storage.tables import identities, people, reminders, roles, sites, tasks

NOW = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
BATCH = 5_000
SITES = 200
PEOPLE_PER_SITE = 10


async def _insert(db: Database, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        async with db.transaction() as tx:
            await tx.connection.execute(sa.insert(table), list(rows[start : start + BATCH]))


async def load(db: Database, count: int, due_now: int, rng: random.Random) -> None:
    """Sites, 责任人 and managers bound to chats, open tasks and their planned reminders;
    `due_now` reminders fall due at NOW, the rest later."""
    await _insert(
        db,
        sites,
        [
            {
                "name": f"项目{s}",
                "address": "",
                "timezone": "Asia/Shanghai",
                "quiet_start": "21:00",
                "quiet_end": "08:00",
                "settings": {},
                "active": True,
                "created_at": NOW,
            }
            for s in range(SITES)
        ],
    )
    staff = SITES * PEOPLE_PER_SITE
    await _insert(
        db,
        people,
        [
            {
                "name": f"员工{p}",
                "phone": None,
                "active": True,
                "is_admin": False,
                "created_at": NOW,
            }
            for p in range(staff)
        ],
    )
    role_rows = []
    for p in range(1, staff + 1):
        site = (p - 1) // PEOPLE_PER_SITE + 1
        role = Role.MANAGER if p % PEOPLE_PER_SITE == 0 else Role.RESPONSIBLE
        role_rows.append(
            {"person_id": p, "site_id": site, "role": role, "active": True, "created_at": NOW}
        )
    await _insert(db, roles, role_rows)
    await _insert(
        db,
        identities,
        [
            {
                "person_id": p,
                "channel": Channel.TELEGRAM,
                "external_id": str(900_000 + p),
                "chat_id": str(900_000 + p),
                "bound_at": NOW,
            }
            for p in range(1, staff + 1)
        ],
    )
    today = date(2026, 11, 27)
    task_rows = []
    for t in range(count):
        site = t % SITES + 1
        responsible = (site - 1) * PEOPLE_PER_SITE + 1 + t % (PEOPLE_PER_SITE - 1)
        task_rows.append(
            {
                "site_id": site,
                "finding": "现场检查发现问题",
                "score": 0.5,
                "severity": "general",
                "responsible_person_id": responsible,
                "status": TaskStatus.OPEN,
                "due_date": today + timedelta(days=rng.randint(5, 60)),
                "created_by": responsible,
                "created_at": NOW,
                "updated_at": NOW,
                "version": 1,
            }
        )
    await _insert(db, tasks, task_rows)
    policy = ReminderPolicy()
    reminder_rows = []
    for task_id, row in enumerate(task_rows, start=1):
        for planned in plan(row["due_date"], policy, "Asia/Shanghai", NOW):
            # A rung of the escalation ladder has no person: its managers are found when due.
            person = None if planned.rung else row["responsible_person_id"]
            due_at = NOW if task_id <= due_now and planned.kind == "before3" else planned.due_at
            reminder_rows.append(
                {
                    "task_id": task_id,
                    "person_id": person,
                    "kind": planned.kind,
                    "due_at": due_at,
                    "attempts": 0,
                    "created_at": NOW,
                }
            )
    await _insert(db, reminders, reminder_rows)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_bot(data_dir: Path) -> tuple[float, float]:
    """Start `pinjian run`; seconds until /healthz answers, and resident memory then."""
    port = _free_port()
    env = {
        **os.environ,
        "PINJIAN_DATA_DIR": str(data_dir),
        "PINJIAN_HTTP_PORT": str(port),
        "PINJIAN_TELEGRAM_TOKEN": "",
        "PINJIAN_LOG_LEVEL": "WARNING",
    }
    began = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError("the bot exited during start-up")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.02)
        ready = time.perf_counter() - began
        time.sleep(3)
        return ready, _rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


async def measure(count: int, due_now: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        url = f"sqlite+aiosqlite:///{data_dir / 'pinjian.db'}"
        await upgrade(url)
        db = Database(
            url, clock=lambda: NOW, files=FileEvidenceStore(data_dir / "evidence", max_bytes=1)
        )
        await db.open()
        began = time.perf_counter()
        await load(db, count, due_now, random.Random(7))
        load_seconds = time.perf_counter() - began
        sweeper = ReminderSweeper(db, lambda: NOW - timedelta(minutes=1))
        idle = []
        for _ in range(5):
            began = time.perf_counter()
            await sweeper.sweep()
            idle.append(time.perf_counter() - began)
        began = time.perf_counter()
        report = await ReminderSweeper(db, lambda: NOW).sweep()
        busy = time.perf_counter() - began
        began = time.perf_counter()
        planned = await sweeper.reconcile(NOW)
        reconcile = time.perf_counter() - began
        async with db.read() as tx:
            queued = await tx.outbox.pending_count()
        await db.close()
        start_bot(data_dir)
        startup = [start_bot(data_dir) for _ in range(3)]
        return {
            "tasks": count,
            "load_s": load_seconds,
            "idle_sweep_ms": 1000 * statistics.median(idle),
            "busy_sweep_s": busy,
            "sent": report.sent,
            "messages": queued,
            "reconcile_s": reconcile,
            "reconcile_planned": planned,
            "startup_s": statistics.median(s for s, _ in startup),
            "rss_mb": statistics.median(r for _, r in startup),
        }


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000, help="reminders due in the sweep")
    args = parser.parse_args(argv)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"date: {datetime.now(UTC):%Y-%m-%d}")
    print()
    print(
        "| open tasks | load (s) | idle sweep (ms) | sweep with due reminders | "
        "daily check (s) | start-up to /healthz (s) | RSS after start (MB) |"
    )
    print("|---:|---:|---:|---|---:|---:|---:|")
    for count in (0, args.tasks):
        result = await measure(count, min(args.due, count))
        busy = (
            f"{result['busy_sweep_s']:.2f} s for {result['sent']} reminders → "
            f"{result['messages']} messages"
            if count
            else "—"
        )
        print(
            f"| {count:,} | {result['load_s']:.1f} | {result['idle_sweep_ms']:.1f} | {busy} | "
            f"{result['reconcile_s']:.2f} | {result['startup_s']:.2f} | {result['rss_mb']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
