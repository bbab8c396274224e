"""Storage benchmark: a year of data for a large company, then the hot queries.

    .venv/bin/python -m bench.bench_storage --sqlite            # scaled down (1/10)
    .venv/bin/python -m bench.bench_storage --sqlite --full     # 1,000 sites, 50,000 tasks
    .venv/bin/python -m bench.bench_storage \\
        --postgres postgresql+asyncpg://postgres@127.0.0.1/test

Loads with executemany into a fresh database (a temporary SQLite file, or a scratch database
created next to the given PostgreSQL one and dropped afterwards), then times each query the
bot and the manager reports run most, through the storage API, as the median of --runs, and
prints the query plan of each so the indexes in use can be checked. Output is Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from storage.base import Ctx
from storage.db import Database, Tx
from storage.migrate import upgrade
from storage.records import (
    Channel,
    EvidenceKind,
    EvidenceRole,
    InspectionStatus,
    OutboxKind,
    OutboxStatus,
    Role,
    Severity,
    TaskEventKind,
    TaskStatus,
)
from storage.tables import (
    answer_revisions,
    answers,
    conversations,
    evidence,
    identities,
    inspections,
    outbox,
    people,
    processed_events,
    reminders,
    roles,
    sites,
    standards,
    task_events,
    tasks,
)

NOW = datetime(2025, 12, 31, 2, 0, tzinfo=UTC)
TODAY = date(2025, 12, 31)
ITEMS = 62
BATCH = 20_000


@dataclass(frozen=True)
class Size:
    sites: int
    inspections_per_site: int
    tasks: int


@dataclass
class Loaded:
    rows: dict[str, int]
    seconds: float
    inspector: int
    responsible: int
    regional_manager: int
    site: int
    inspection: int
    site_ids: list[int]
    region_sites: list[int]


def _clock() -> datetime:
    return NOW


async def _insert(db: Database, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """executemany in big transactions; every row gets the same keys (missing ones NULL)."""
    keys = set().union(*rows)
    rows = [{key: row.get(key) for key in keys} for row in rows]
    for start in range(0, len(rows), BATCH):
        async with db.transaction() as tx:
            await tx.connection.execute(sa.insert(table), list(rows[start : start + BATCH]))


async def load(db: Database, size: Size, rng: random.Random) -> Loaded:
    """A year of one company's data, generated deterministically."""
    clock_start = time.perf_counter()
    counts: dict[str, int] = {}

    async def put(table: sa.Table, rows: list[dict[str, Any]]) -> None:
        await _insert(db, table, rows)
        counts[table.name] = counts.get(table.name, 0) + len(rows)

    year_ago = NOW - timedelta(days=365)
    site_ids = list(range(1, size.sites + 1))
    await put(
        sites,
        [
            {
                "id": s,
                "name": f"项目{s:04d}",
                "address": "",
                "timezone": "Asia/Shanghai",
                "quiet_start": "21:00",
                "quiet_end": "08:00",
                "settings": {},
                "active": True,
                "created_at": year_ago,
            }
            for s in site_ids
        ],
    )
    # Per site: an inspector, three responsible staff and a manager; one regional manager per
    # 20 sites; inspectors also inspect a neighbouring site (交叉检查).
    staff: dict[int, dict[str, list[int]]] = {}
    person_rows, role_rows = [], []
    pid = 0

    def person(name: str) -> int:
        nonlocal pid
        pid += 1
        person_rows.append(
            {
                "id": pid,
                "name": name,
                "phone": None,
                "active": True,
                "is_admin": False,
                "created_at": year_ago,
            }
        )
        return pid

    def grant(person_id: int, site_id: int, role: Role) -> None:
        role_rows.append(
            {
                "person_id": person_id,
                "site_id": site_id,
                "role": role,
                "active": True,
                "created_at": year_ago,
            }
        )

    for s in site_ids:
        staff[s] = {
            "inspector": [person(f"检查员{s}")],
            "responsible": [person(f"责任人{s}-{n}") for n in range(3)],
            "manager": [person(f"经理{s}")],
        }
        grant(staff[s]["inspector"][0], s, Role.INSPECTOR)
        grant(staff[s]["inspector"][0], s % size.sites + 1, Role.INSPECTOR)
        for r in staff[s]["responsible"]:
            grant(r, s, Role.RESPONSIBLE)
        grant(staff[s]["manager"][0], s, Role.MANAGER)
    regional = []
    for first in range(1, size.sites + 1, 20):
        manager = person(f"区域经理{first}")
        regional.append(manager)
        for s in range(first, min(first + 20, size.sites + 1)):
            grant(manager, s, Role.MANAGER)
    await put(people, person_rows)
    await put(roles, role_rows)
    await put(
        identities,
        [
            {
                "person_id": p,
                "channel": Channel.TELEGRAM,
                "external_id": str(700_000 + p),
                "chat_id": str(700_000 + p),
                "display_name": None,
                "bound_at": year_ago,
            }
            for p in range(1, pid + 1)
        ],
    )
    await put(
        conversations,
        [
            {
                "person_id": p,
                "channel": Channel.TELEGRAM,
                "chat_id": str(700_000 + p),
                "state": {"flow": "idle"},
                "version": 3,
                "updated_at": year_ago,
            }
            for p in range(1, pid + 1)
        ],
    )
    snapshot = {"id": "culture", "items": [{"no": n, "max_score": 1.0} for n in range(1, 63)]}
    await put(
        standards,
        [
            {
                "id": 1,
                "std_id": "culture",
                "version": "1",
                "title": "社区文化管理",
                "content_hash": "a" * 64,
                "snapshot": snapshot,
                "created_at": year_ago,
            },
        ],
    )

    inspection_rows, answer_rows, revision_rows, evidence_rows = [], [], [], []
    lost: list[tuple[int, int, int, int, float, datetime]] = []
    iid = 0
    for s in site_ids:
        inspector = staff[s]["inspector"][0]
        for month in range(size.inspections_per_site):
            iid += 1
            started = year_ago + timedelta(days=30 * month + rng.randint(0, 25), hours=1)
            completed = started + timedelta(hours=2)
            total = 0.0
            for item in range(1, ITEMS + 1):
                roll = rng.random()
                not_applicable = roll < 0.02
                score = (
                    None
                    if not_applicable
                    else (0.0 if roll < 0.05 else 0.5 if roll < 0.15 else 1.0)
                )
                total += score or 0.0
                answer: dict[str, Any] = {
                    "inspection_id": iid,
                    "item_no": item,
                    "score": score,
                    "max_score": 1.0,
                    "not_applicable": not_applicable,
                    "level_label": None,
                    "details": {},
                    "answered_by": inspector,
                    "answered_at": started,
                }
                answer_rows.append({**answer, "revision": 1})
                revision_rows.append({**answer, "revision": 1})
                if score is not None and score < 1:
                    lost.append((s, iid, item, inspector, score, completed))
                    for _ in range(rng.randint(1, 2)):
                        evidence_rows.append(
                            {
                                "sha256": f"{rng.getrandbits(256):064x}",
                                "size": 180_000,
                                "mime": "image/jpeg",
                                "kind": EvidenceKind.PHOTO,
                                "role": EvidenceRole.FINDING,
                                "channel": Channel.TELEGRAM,
                                "channel_file_ref": "AgACAgUAAxkBAAI",
                                "inspection_id": iid,
                                "item_no": item,
                                "created_by": inspector,
                                "created_at": started,
                            }
                        )
            inspection_rows.append(
                {
                    "id": iid,
                    "site_id": s,
                    "standard_id": 1,
                    "std_id": "culture",
                    "inspector_id": inspector,
                    "status": InspectionStatus.COMPLETED,
                    "channel": Channel.TELEGRAM,
                    "cursor_item_no": ITEMS,
                    "started_at": started,
                    "completed_at": completed,
                    "score": total,
                    "max_score": 62.0,
                    "updated_at": completed,
                }
            )
        if s % 10 == 0:
            iid += 1
            inspection_rows.append(
                {
                    "id": iid,
                    "site_id": s,
                    "standard_id": 1,
                    "std_id": "culture",
                    "inspector_id": inspector,
                    "status": InspectionStatus.PAUSED,
                    "channel": Channel.TELEGRAM,
                    "cursor_item_no": 20,
                    "started_at": NOW,
                    "paused_at": NOW,
                    "updated_at": NOW,
                }
            )
    await put(inspections, inspection_rows)
    await put(answers, answer_rows)
    await put(answer_revisions, revision_rows)
    await put(evidence, evidence_rows)
    del answer_rows, revision_rows, evidence_rows

    task_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    reminder_rows: list[dict[str, Any]] = []
    picked = rng.sample(lost, min(size.tasks, len(lost)))
    for tid, (s, iid, item, inspector, score, created) in enumerate(
        sorted(picked, key=lambda x: x[1]), 1
    ):
        due = created.date() + timedelta(days=rng.choice((3, 7, 15, 30)))
        roll = rng.random()
        status = (
            TaskStatus.OPEN if roll < 0.1 else TaskStatus.REVIEW if roll < 0.2 else TaskStatus.DONE
        )
        responsible = rng.choice(staff[s]["responsible"])
        closed = created + timedelta(days=rng.randint(1, 20)) if status is TaskStatus.DONE else None
        task_rows.append(
            {
                "id": tid,
                "site_id": s,
                "inspection_id": iid,
                "item_no": item,
                "finding": "楼道堆放杂物，未及时清理",
                "score": score,
                "severity": Severity.GENERAL,
                "responsible_person_id": responsible,
                "status": status,
                "due_date": due,
                "remark": None,
                "created_by": inspector,
                "created_at": created,
                "closed_at": closed,
                "updated_at": closed or created,
                "version": 3,
            }
        )
        event_rows.append(
            {
                "task_id": tid,
                "at": created,
                "actor_id": inspector,
                "kind": TaskEventKind.CREATED,
                "to_status": TaskStatus.OPEN,
                "data": {},
            }
        )
        if status is not TaskStatus.OPEN:
            event_rows.append(
                {
                    "task_id": tid,
                    "at": created + timedelta(days=1),
                    "actor_id": responsible,
                    "kind": TaskEventKind.STATUS,
                    "from_status": TaskStatus.OPEN,
                    "to_status": TaskStatus.REVIEW,
                    "data": {},
                }
            )
        if status is TaskStatus.DONE:
            event_rows.append(
                {
                    "task_id": tid,
                    "at": closed,
                    "actor_id": inspector,
                    "kind": TaskEventKind.STATUS,
                    "from_status": TaskStatus.REVIEW,
                    "to_status": TaskStatus.DONE,
                    "data": {},
                }
            )
        else:
            for kind, days in (("due_in_3d", -3), ("due_in_1d", -1), ("due_today", 0)):
                due_at = datetime.combine(due, datetime.min.time(), UTC) + timedelta(days=days)
                reminder_rows.append(
                    {
                        "task_id": tid,
                        "person_id": responsible,
                        "kind": kind,
                        "due_at": due_at,
                        "sent_at": due_at if due_at < NOW - timedelta(days=1) else None,
                        "attempts": 1,
                        "created_at": created,
                    }
                )
    await put(tasks, task_rows)
    await put(task_events, event_rows)
    await put(reminders, reminder_rows)

    outbox_rows, event_keys = [], []
    for n in range(size.sites * 300):
        chat = str(700_000 + rng.randint(1, pid))
        pending = n >= size.sites * 300 - size.sites // 2
        outbox_rows.append(
            {
                "channel": Channel.TELEGRAM,
                "chat_id": chat,
                "kind": OutboxKind.SEND,
                "payload": {"text": "【一、客户管理】第 3/62 项"},
                "not_before": NOW,
                "created_at": NOW,
                "attempts": 0 if pending else 1,
                "status": OutboxStatus.PENDING if pending else OutboxStatus.SENT,
                "sent_at": None if pending else NOW,
                "channel_message_id": None if pending else str(n),
            }
        )
        event_keys.append({"key": f"tg:update:{n}", "at": NOW})
    await put(outbox, outbox_rows)
    await put(processed_events, event_keys)

    site = len(site_ids) // 20 * 10  # a multiple of 10: it has a paused inspection
    open_task = next(t for t in task_rows if t["status"] is TaskStatus.OPEN)
    return Loaded(
        rows=counts,
        seconds=time.perf_counter() - clock_start,
        inspector=staff[site]["inspector"][0],
        responsible=int(open_task["responsible_person_id"]),
        regional_manager=regional[len(regional) // 2],
        site=site,
        inspection=iid - 1 if inspection_rows[-1]["status"] is InspectionStatus.PAUSED else iid,
        site_ids=site_ids,
        region_sites=[s for s in site_ids if (s - 1) // 20 == (site - 1) // 20],
    )


class Capture:
    """Remembers the last SELECT/UPDATE the engine ran, to EXPLAIN it afterwards."""

    def __init__(self, engine: sa.Engine) -> None:
        self.last: tuple[str, Any] | None = None
        self.on = False
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if self.on and statement.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH")):
            self.last = (statement, params)

    @contextmanager
    def recording(self) -> Iterator[None]:
        self.on, self.last = True, None
        try:
            yield
        finally:
            self.on = False


def _size(result: object) -> int:
    return len(result) if isinstance(result, list | dict) else 1


async def _in_rollback(db: Database, work: Callable[[Tx], Awaitable[object]]) -> int:
    """Run `work` in a write transaction that is rolled back, so claims can be repeated."""
    async with db.engine.connect() as conn, conn.begin() as transaction:
        result = await work(Tx(Ctx(conn, _clock, db.dialect)))
        await transaction.rollback()
    return _size(result)


async def _read(db: Database, work: Callable[[Tx], Awaitable[object]]) -> int:
    async with db.read() as tx:
        return _size(await work(tx))


async def explain(db: Database, statement: str, params: Any) -> list[str]:
    async with db.engine.connect() as conn:
        if db.dialect == "sqlite":
            rows = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)).all()
            return [str(row[-1]) for row in rows]
        rows = (await conn.exec_driver_sql("EXPLAIN " + statement, params)).all()
        await conn.rollback()
        return [str(row[0]) for row in rows]


def queries(data: Loaded) -> list[tuple[str, Callable[[Database], Awaitable[int]]]]:
    since = NOW - timedelta(days=90)

    def r(work: Callable[[Tx], Awaitable[object]]) -> Callable[[Database], Awaitable[int]]:
        return lambda db: _read(db, work)

    def w(work: Callable[[Tx], Awaitable[object]]) -> Callable[[Database], Awaitable[int]]:
        return lambda db: _in_rollback(db, work)

    async def one_event(tx: Tx) -> None:
        await tx.events.record(f"bench:{time.perf_counter_ns()}")
        conv = await tx.conversations.get(
            data.inspector, Channel.TELEGRAM, str(700_000 + data.inspector)
        )
        await tx.conversations.save(
            data.inspector,
            Channel.TELEGRAM,
            str(700_000 + data.inspector),
            {"flow": "x"},
            expected_version=conv.version if conv else 0,
        )
        await tx.answers.set(data.inspection, 21, answered_by=data.inspector, score=1, max_score=1)
        await tx.outbox.enqueue(
            Channel.TELEGRAM, str(700_000 + data.inspector), OutboxKind.EDIT, {}
        )

    return [
        (
            "identity by (channel, external_id)",
            r(lambda tx: tx.identities.resolve(Channel.TELEGRAM, str(700_000 + data.inspector))),
        ),
        ("roles of a person", r(lambda tx: tx.roles.for_person(data.regional_manager))),
        (
            "sites where a person is manager",
            r(lambda tx: tx.roles.sites_with_role(data.regional_manager, Role.MANAGER)),
        ),
        (
            "conversation of (person, channel, chat)",
            r(
                lambda tx: tx.conversations.get(
                    data.inspector, Channel.TELEGRAM, str(700_000 + data.inspector)
                )
            ),
        ),
        (
            "open inspections of an inspector",
            r(lambda tx: tx.inspections.open_for_inspector(data.inspector)),
        ),
        (
            "current answers of an inspection",
            r(lambda tx: tx.answers.for_inspection(data.inspection)),
        ),
        ("evidence count per item", r(lambda tx: tx.evidence.count_by_item(data.inspection))),
        (
            "site's latest 2 completed (per standard)",
            r(lambda tx: tx.inspections.latest_completed(data.site, "culture")),
        ),
        (
            "latest scores, 20 sites (region /stats)",
            r(lambda tx: tx.inspections.latest_scores(data.region_sites, std_id="culture")),
        ),
        (
            "latest scores, all sites (company /stats)",
            r(lambda tx: tx.inspections.latest_scores(data.site_ids, std_id="culture")),
        ),
        (
            "open tasks of a person, overdue first",
            r(lambda tx: tx.tasks.open_for_person(data.responsible)),
        ),
        ("open tasks of a site", r(lambda tx: tx.tasks.open_for_site(data.site))),
        ("overdue tasks, 20 sites", r(lambda tx: tx.tasks.overdue(data.region_sites, TODAY))),
        ("overdue tasks, all sites", r(lambda tx: tx.tasks.overdue(data.site_ids, TODAY))),
        ("task counts per site, all sites", r(lambda tx: tx.tasks.counts(data.site_ids, TODAY))),
        (
            "items most often losing points, 90 days",
            r(lambda tx: tx.inspections.item_losses(since)),
        ),
        (
            "claim due reminders (100)",
            w(lambda tx: tx.reminders.claim_due(NOW, limit=100, worker_id="b", lease_seconds=60)),
        ),
        (
            "claim outbox (50)",
            w(
                lambda tx: tx.outbox.claim(
                    Channel.TELEGRAM, NOW, limit=50, worker_id="b", lease_seconds=60
                )
            ),
        ),
        ("one incoming event (key+state+answer+outbox)", w(one_event)),
    ]


async def run(url: str, size: Size, runs: int, show_plans: bool) -> None:
    await upgrade(url)
    db = Database(url, clock=_clock)
    await db.open()
    try:
        data = await load(db, size, random.Random(42))
        if db.dialect == "postgresql":
            async with db.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("ANALYZE")
        capture = Capture(db.engine.sync_engine)
        print(
            f"Loaded {sum(data.rows.values()):,} rows in {data.seconds:.1f} s: "
            + ", ".join(f"{k} {v:,}" for k, v in data.rows.items())
        )
        print()
        print("| query | rows | median ms | p90 ms |")
        print("|---|---:|---:|---:|")
        plans = []
        for name, work in queries(data):
            rows = await work(db)
            timings = []
            for _ in range(runs):
                start = time.perf_counter()
                await work(db)
                timings.append((time.perf_counter() - start) * 1000)
            timings.sort()
            p90 = timings[min(len(timings) - 1, int(len(timings) * 0.9))]
            print(f"| {name} | {rows:,} | {statistics.median(timings):.2f} | {p90:.2f} |")
            with capture.recording():
                await work(db)
            if capture.last is not None:
                plans.append((name, await explain(db, *capture.last)))
        if show_plans:
            print()
            for name, plan in plans:
                print(f"{name}:")
                print("```")
                print("\n".join(plan))
                print("```")
    finally:
        await db.close()


async def _admin(admin_url: str, statement: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(statement)
    finally:
        await engine.dispose()


async def _scratch_pg(admin_url: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    name = f"pinjian_bench_{os.getpid()}"
    await _admin(admin_url, f"CREATE DATABASE {name}")

    async def drop() -> None:
        await _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--sqlite", action="store_true", help="a temporary SQLite file")
    target.add_argument(
        "--postgres", metavar="URL", help="an admin URL; a scratch database is created"
    )
    parser.add_argument(
        "--full", action="store_true", help="1,000 sites x 12 x 62 answers, 50,000 tasks"
    )
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--no-plans", action="store_true")
    args = parser.parse_args(argv)
    size = Size(1000, 12, 50_000) if args.full else Size(100, 12, 5_000)
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(
        f"size: {size.sites} sites x {size.inspections_per_site} inspections x {ITEMS} answers,"
        f" {size.tasks:,} tasks"
    )
    if args.sqlite:
        with tempfile.TemporaryDirectory(prefix="pinjian-bench-") as scratch:
            url = f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"
            await run(url, size, args.runs, not args.no_plans)
        return 0
    url, drop = await _scratch_pg(args.postgres)
    try:
        await run(url, size, args.runs, not args.no_plans)
    finally:
        await drop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
