"""Throughput and latency through the real Telegram adapter.

N simulated inspectors (default N = 1, 50, 200) each complete a full 62-item inspection —
with photos on some items and rectification tasks on others — against the fake Bot API server,
talking to a real `pinjian run` process (SQLite in a temporary data dir). In the same run a
bare python-telegram-bot echo bot handles the same number of updates from the same number of
users against the same fake server. Each user waits for the bot's answer before the next step,
as a person does. Before measuring, one more user completes a whole inspection unmeasured (for
the echo bot, as many messages): one-time costs — statements compiled on first use, templates,
caches — are not throughput, and at small N they made the slowest answers. Measuring begins
once the warm-up's report files have arrived: rendering them (CPU in the render process)
would otherwise overlap a short measured run.

Two latencies are measured per update. End-to-end runs from the moment the user's update is
queued at the fake server to the moment the bot's answer for that step arrives there (a new
message with buttons, or the echo). Bot-side runs from the moment getUpdates hands the update
to the bot to that same answer: the bot's own queueing, work and API calls, without the time
the update waited at the server for the next poll. "bot CPU ms per update" is the CPU time of
the bot's process (all threads; not Pinjian's report worker) while measured, over the updates.
--by-step adds the bot-side latency by kind of step, --windows S by S-second stretch of the run.

With --rounds R each bot is measured R times, alternately (the echo bot, then Pinjian, then
the echo bot again …) with both processes up throughout, and the figures cover all rounds:
the machine's speed drifts within minutes, which makes single short runs' ratios vary
widely; alternating gives both bots the same machine. Between rounds Pinjian's report files
are rendered, unmeasured.

Each N runs twice. "capacity": every user acts again as soon as the answer arrives (no
thinking time), which measures the most updates a second the bot can take; latency there is
mostly queueing (N users always waiting). "paced": every user thinks 0.5–1.5 × --think
seconds (default 2 s, a fast inspector) before each action, which measures the latency people
see at that load.

    .venv/bin/python -m bench.bench_telegram                 # N = 1, 50, 200
    .venv/bin/python -m bench.bench_telegram --users 50      # one N
    .venv/bin/python -m bench.bench_telegram --rate-limit    # with Telegram's 30 msg/s cap
    .venv/bin/python -m bench.bench_telegram --database-url postgresql+asyncpg://u@host/db

With --database-url (a PostgreSQL server) the bot runs on a scratch database, named after the
URL's (`<name>_bench_<pid>`, created through the server's `postgres` database) and dropped
afterwards, instead of a SQLite file. A server with autovacuum off has the scratch database
vacuumed and analyzed every minute by the bench instead, as autovacuum would.

Without --rate-limit the bot runs with PINJIAN_TELEGRAM_RATE_LIMIT=false, like the bare echo
bot, so the figures show the bot's own work; with it, each answered item (an edit and a new
message) counts against Telegram's 30 messages a second for the whole bot.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from standards.loader import BUILTIN_DIR, load_file
from storage.db import Database
from storage.migrate import upgrade
from storage.records import Role
from tests.fakes.telegram_api import ApiCall, FakeTelegramAPI, FakeUser

STANDARD = load_file(BUILTIN_DIR / "community-culture.yaml")


def _photo() -> bytes:
    """A real JPEG (the reports at the end of each inspection read it), ~20 KB."""
    image = Image.linear_gradient("L").resize((640, 480)).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


JPEG = _photo()
STEP_TIMEOUT = 60.0
RATE_LIMIT = False
THINK = 0.0
DATABASE_URL = ""
AUTOVACUUM_NAPTIME = 60.0
SITE = "阳光花园"


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    bot_side: list[float] = field(default_factory=list)
    by_step: dict[str, list[float]] = field(default_factory=dict)
    arrivals: list[tuple[float, float]] = field(default_factory=list)
    """(when the answer arrived, its bot-side latency), for the latency over time."""
    updates: int = 0
    cpu: float = 0.0
    """Seconds of CPU the bot's process used while measured (all its threads; not the
    report worker's process)."""

    def summary(self, elapsed: float) -> dict[str, float]:
        figures: dict[str, float] = {"updates": self.updates, "per_s": self.updates / elapsed}
        figures["cpu_ms"] = 1000 * self.cpu / max(1, self.updates)
        for name, values in (("e2e", self.latencies), ("bot", self.bot_side)):
            ordered = sorted(values)
            for p in (50, 95, 99):
                figures[f"{name}_p{p}"] = (
                    1000 * ordered[min(len(ordered) - 1, p * len(ordered) // 100)]
                )
            figures[f"{name}_mean"] = 1000 * statistics.fmean(ordered)
        return figures

    def steps(self) -> list[str]:
        """Bot-side latency by kind of step: which steps make the tail."""
        return [_row(kind, values) for kind, values in sorted(self.by_step.items())]

    def windows(self, seconds: float) -> list[str]:
        """Bot-side latency by `seconds`-long window of the answers' arrival: whether the tail
        is spread over the run or made in one stretch of it."""
        if not self.arrivals:
            return []
        start = min(at for at, _ in self.arrivals)
        grouped: dict[int, list[float]] = {}
        for at, latency in self.arrivals:
            grouped.setdefault(int((at - start) // seconds), []).append(latency)
        return [_row(f"{n * seconds:.0f} s", values) for n, values in sorted(grouped.items())]


def _row(name: str, values: list[float]) -> str:
    """A Markdown row: the name, how many, and the p50 / p95 / p99 of `values` in ms."""
    ordered = sorted(values)
    share = " / ".join(
        f"{1000 * ordered[min(len(ordered) - 1, p * len(ordered) // 100)]:.1f}"
        for p in (50, 95, 99)
    )
    return f"| {name} | {len(ordered)} | {share} |"


class Step:
    """One user action and the wait for the bot's answer to it."""

    def __init__(
        self, fake: FakeTelegramAPI, user: FakeUser, stats: Stats, *, think: float
    ) -> None:
        self.fake = fake
        self.user = user
        self.stats = stats
        self.think = think
        self.calls = fake.watch(user.id)

    async def answer(
        self, action: Coroutine[Any, Any, int], *, buttons: bool, kind: str
    ) -> ApiCall:
        if self.think:
            await asyncio.sleep(random.uniform(0.5, 1.5) * self.think)
        began = time.perf_counter()
        update_id = await action
        self.stats.updates += 1
        while True:
            call = await asyncio.wait_for(self.calls.get(), STEP_TIMEOUT)
            if call.method == "sendMessage" and (not buttons or "reply_markup" in call.params):
                arrived = time.perf_counter()
                self.stats.latencies.append(arrived - began)
                bot_side = arrived - self.fake.first_delivered[update_id]
                self.stats.bot_side.append(bot_side)
                self.stats.by_step.setdefault(kind, []).append(bot_side)
                self.stats.arrivals.append((arrived, bot_side))
                return call

    def keyboard(self, call: ApiCall) -> list[tuple[str, str]]:
        markup = call.params.get("reply_markup") or {}
        if isinstance(markup, str):
            markup = json.loads(markup)
        return [
            (b["text"], b["callback_data"])
            for row in markup.get("inline_keyboard", [])
            for b in row
        ]

    async def press(self, call: ApiCall, label: str, *, buttons: bool = True) -> ApiCall:
        data = next(d for t, d in self.keyboard(call) if label in t)
        message_id = int(call.result["message_id"])
        return await self.answer(self.user.press(message_id, data), buttons=buttons, kind=label)


async def inspector(
    fake: FakeTelegramAPI, user: FakeUser, code: str, stats: Stats, *, think: float
) -> None:
    step = Step(fake, user, stats, think=think)
    await step.answer(user.send_command("start", code), buttons=False, kind="/start")
    menu = await step.answer(user.send_command("inspect"), buttons=True, kind="/inspect")
    screen = await step.press(menu, SITE)
    for item in STANDARD.items:
        if item.no % 10 == 0:
            # The item is shown again below the photo, its buttons at hand.
            photo = user.send_photo(JPEG + bytes([item.no]))
            screen = await step.answer(photo, buttons=True, kind="photo")
        if item.no % 15 == 7:
            setup = await step.press(screen, "0分")
            screen = await step.press(setup, "确认创建")
        else:
            screen = await step.press(screen, "1分")
    await step.press(screen, "提交检查", buttons=False)


# Updates one inspector sends: /start, /inspect, the site, a tap per item, a photo on every
# tenth item, a second tap (confirming the task) on four items, and the submission: 76.
STEPS = 3 + sum(1 + (i.no % 10 == 0) + (i.no % 15 == 7) for i in STANDARD.items) + 1


async def echo_user(
    fake: FakeTelegramAPI, user: FakeUser, steps: int, stats: Stats, *, think: float
) -> None:
    step = Step(fake, user, stats, think=think)
    for n in range(steps):
        await step.answer(user.send_text(f"第{n}项 1分"), buttons=False, kind="text")


async def seed(url: str, users: int) -> list[str]:
    await upgrade(url)
    db = Database(url)
    await db.open()
    codes = []
    async with db.transaction() as tx:
        site = await tx.sites.create(SITE, timezone="Asia/Shanghai")
        for name in ("张三", "李四"):
            person = await tx.people.create(name)
            await tx.roles.grant(person.id, site.id, Role.RESPONSIBLE)
        for n in range(users):
            person = await tx.people.create(f"检查员{n}")
            await tx.roles.grant(person.id, site.id, Role.INSPECTOR)
            code = f"bench{n}x"
            await tx.invites.create(code, person.id, expires_at=tx.now() + timedelta(days=1))
            codes.append(code)
    await db.close()
    return codes


async def reports_arrived(fake: FakeTelegramAPI, user: FakeUser) -> None:
    """Wait for the report files of the user's inspection (Excel and PDF): the warm-up's
    rendering is over and does not weigh on the measured run."""

    def documents() -> int:
        return sum(1 for c in fake.calls("sendDocument") if int(c.params["chat_id"]) == user.id)

    await fake.wait_for(lambda: documents() >= 2, timeout=120)


async def wait_polling(fake: FakeTelegramAPI) -> None:
    await fake.wait_for(lambda: fake.calls("getUpdates"), timeout=60)
    await asyncio.sleep(0.3)


async def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the bot while the fake server keeps answering its last calls."""
    process.terminate()
    try:
        await asyncio.to_thread(process.wait, 30)
    except subprocess.TimeoutExpired:
        process.kill()


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system, all threads) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def measured_cpu(pid: int, stats: Stats) -> Iterator[None]:
    """Adds the CPU the process uses meanwhile to `stats`: the capacity goal compares two
    bots that each keep about one core busy (the GIL), so CPU per update is what sets it."""
    before = cpu_seconds(pid)
    try:
        yield
    finally:
        stats.cpu += cpu_seconds(pid) - before


@contextlib.contextmanager
def steady_instrument() -> Iterator[None]:
    """No cyclic garbage collection in the load generator and fake server while measuring:
    its full passes over the recorded calls paused this process for up to a second, and
    every answer arriving meanwhile was timed late, for either bot. The clock starts after
    the collection made on the way in (it took a quarter of a round at N = 1)."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


class PinjianRun:
    """A `pinjian run` process against its own fake server, warmed up; `round` measures
    `users` inspectors each completing an inspection."""

    def __init__(self, fake: FakeTelegramAPI, codes: list[str], pid: int) -> None:
        self.fake = fake
        self.codes = codes
        self.pid = pid
        self.started = 0
        self.last: list[FakeUser] = []

    async def round(self, users: int, stats: Stats) -> float:
        first, self.started = self.started, self.started + users
        self.last = [self.fake.user(100_000 + n, f"检查员{n}") for n in range(first, first + users)]
        with steady_instrument(), measured_cpu(self.pid, stats):
            began = time.perf_counter()
            await asyncio.gather(
                *(
                    inspector(self.fake, user, self.codes[first + n], stats, think=THINK)
                    for n, user in enumerate(self.last)
                )
            )
            return time.perf_counter() - began

    async def settle(self) -> None:
        """Wait for the last round's report files: their rendering is not the next round's."""
        for user in self.last:
            await reports_arrived(self.fake, user)


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(statement)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def database(data_dir: Path) -> AsyncIterator[str]:
    """A SQLite file in `data_dir`, or a scratch PostgreSQL database beside DATABASE_URL's."""
    if not DATABASE_URL:
        yield f"sqlite+aiosqlite:///{data_dir / 'pinjian.db'}"
        return
    server = make_url(DATABASE_URL)
    name = f"{server.database}_bench_{os.getpid()}"
    admin = server.set(database="postgres").render_as_string(hide_password=False)
    await _admin(admin, f"CREATE DATABASE {name}")
    scratch = server.set(database=name).render_as_string(hide_password=False)
    vacuum = asyncio.create_task(_autovacuum_stand_in(scratch))
    try:
        yield scratch
    finally:
        vacuum.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await vacuum
        await _admin(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def _autovacuum_stand_in(url: str) -> None:
    """What autovacuum does on a server at its defaults, for a server that has it turned off
    (this project's machine does, for its test suite): the scratch database is vacuumed
    and analyzed every AUTOVACUUM_NAPTIME seconds, autovacuum's own default interval.
    Without statistics the planner chose the outbox's index by chat and reference for the
    queries by chat and status, which then read every message the chat was ever sent: the
    server's CPU per update tripled in a run and the bot's latency with it."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            if (await conn.exec_driver_sql("SHOW autovacuum")).scalar() == "on":
                return
        print(f"(autovacuum is off: VACUUM ANALYZE every {AUTOVACUUM_NAPTIME:g} s)", flush=True)
        while True:
            await asyncio.sleep(AUTOVACUUM_NAPTIME)
            async with engine.connect() as conn:
                await conn.exec_driver_sql("VACUUM (ANALYZE)")
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def pinjian(inspections: int) -> AsyncIterator[PinjianRun]:
    with tempfile.TemporaryDirectory() as tmp:
        async with database(Path(tmp)) as url, _pinjian(Path(tmp), url, inspections) as run:
            yield run


@contextlib.asynccontextmanager
async def _pinjian(data_dir: Path, url: str, inspections: int) -> AsyncIterator[PinjianRun]:
    codes = await seed(url, inspections + 1)
    async with FakeTelegramAPI(strict_html=False) as fake:
        env = {
            **os.environ,
            "PINJIAN_DATA_DIR": str(data_dir),
            "PINJIAN_DATABASE_URL": url,
            "PINJIAN_HTTP_PORT": "0",
            "PINJIAN_TELEGRAM_TOKEN": fake.token,
            "PINJIAN_TELEGRAM_API_URL": fake.base_url,
            "PINJIAN_TELEGRAM_FILE_URL": fake.base_file_url,
            "PINJIAN_LOG_LEVEL": "WARNING",
            "PINJIAN_TELEGRAM_RATE_LIMIT": "true" if RATE_LIMIT else "false",
        }
        process = await asyncio.to_thread(
            subprocess.Popen, [sys.executable, "-m", "bot", "run"], env=env
        )
        try:
            await wait_polling(fake)
            warm_up = fake.user(99_999, "预热")
            await inspector(fake, warm_up, codes[inspections], Stats(), think=0.0)
            await reports_arrived(fake, warm_up)
            yield PinjianRun(fake, codes, process.pid)
        finally:
            await _stop(process)


class EchoRun:
    def __init__(self, fake: FakeTelegramAPI, pid: int) -> None:
        self.fake = fake
        self.pid = pid
        self.started = 0

    async def round(self, users: int, steps: int, stats: Stats) -> float:
        first, self.started = self.started, self.started + users
        with steady_instrument(), measured_cpu(self.pid, stats):
            began = time.perf_counter()
            await asyncio.gather(
                *(
                    echo_user(self.fake, self.fake.user(200_000 + n), steps, stats, think=THINK)
                    for n in range(first, first + users)
                )
            )
            return time.perf_counter() - began


@contextlib.asynccontextmanager
async def echo() -> AsyncIterator[EchoRun]:
    async with FakeTelegramAPI(strict_html=False) as fake:
        command = [sys.executable, "-m", "bench.echo_bot", fake.token]
        process = await asyncio.to_thread(
            subprocess.Popen, [*command, fake.base_url, fake.base_file_url]
        )
        try:
            await wait_polling(fake)
            await echo_user(fake, fake.user(199_999), STEPS, Stats(), think=0.0)
            yield EchoRun(fake, process.pid)
        finally:
            await _stop(process)


async def measure(users: int, rounds: int) -> tuple[dict[str, float], Stats, dict[str, float]]:
    """Both bots up side by side, measured in turn round by round (the echo bot first, then
    Pinjian, whose report files are rendered before the next round): the machine's speed
    drifts by a third within minutes here, and alternating lets both bots see the same
    machine. Figures are over all rounds."""
    ours, theirs = Stats(), Stats()
    ours_elapsed = theirs_elapsed = 0.0
    async with pinjian(users * rounds) as bot, echo() as baseline:
        for number in range(rounds):
            theirs_elapsed += await baseline.round(users, STEPS, theirs)
            ours_elapsed += await bot.round(users, ours)
            if number < rounds - 1:
                await bot.settle()
    return ours.summary(ours_elapsed), ours, theirs.summary(theirs_elapsed)


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, action="append")
    parser.add_argument(
        "--rate-limit",
        action="store_true",
        help="keep the bot's Telegram rate limiter on (off by default: the echo bot has none)",
    )
    parser.add_argument(
        "--think", type=float, default=2.0, help="mean thinking time of the paced run, seconds"
    )
    parser.add_argument(
        "--mode", choices=("capacity", "paced"), action="append", help="default: both"
    )
    parser.add_argument(
        "--by-step", action="store_true", help="also the bot's latency by kind of step"
    )
    parser.add_argument(
        "--windows",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="also the bot's latency by window of this many seconds over the run",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure each bot this many times, alternately, and report the whole",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL URL: run the bot on a scratch database beside it (default SQLite)",
    )
    args = parser.parse_args(argv)
    global RATE_LIMIT, THINK, DATABASE_URL
    RATE_LIMIT = args.rate_limit
    DATABASE_URL = args.database_url
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; date {datetime.now(UTC):%Y-%m-%d}; "
        f"database {'PostgreSQL' if DATABASE_URL else 'SQLite'}"
    )
    print()
    print(
        "| N | mode | bot | updates | updates/s | end-to-end p50 / p95 / p99 ms "
        "| bot-side p50 / p95 / p99 ms | bot CPU ms per update | vs echo |"
    )
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for users in args.users or [1, 50, 200]:
        for mode in args.mode or ["capacity", "paced"]:
            THINK = args.think if mode == "paced" else 0.0
            ours, stats, baseline = await measure(users, args.rounds)
            for name, result in (("pinjian", ours), ("echo", baseline)):
                ratio = f"{ours['per_s'] / baseline['per_s']:.2f}" if name == "pinjian" else ""
                e2e = " / ".join(f"{result[f'e2e_p{p}']:.0f}" for p in (50, 95, 99))
                bot = " / ".join(f"{result[f'bot_p{p}']:.1f}" for p in (50, 95, 99))
                print(
                    f"| {users} | {mode} | {name} | {int(result['updates'])} | "
                    f"{result['per_s']:.0f} | {e2e} | {bot} | {result['cpu_ms']:.2f} | {ratio} |",
                    flush=True,
                )
            if args.by_step:
                print(f"\nN = {users}, {mode}: bot-side latency by step\n")
                print("| step | updates | p50 / p95 / p99 ms |\n|---|---:|---:|")
                print("\n".join(stats.steps()), end="\n\n", flush=True)
            if args.windows:
                print(f"\nN = {users}, {mode}: bot-side latency by {args.windows:g} s window\n")
                print("| from | updates | p50 / p95 / p99 ms |\n|---|---:|---:|")
                print("\n".join(stats.windows(args.windows)), end="\n\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
