"""Crash and restart: the real bot process is killed (SIGKILL) at random moments while an
inspector inspects, 责任人 fix and a manager approves extensions, and started again each time.
At the end nothing is lost or duplicated: answers with their revisions, photos, notes, tasks
and their histories, extensions, reminders, and what each chat shows; and after every restart
the inspection went on at the right item. See tests/resilience/crashbot.py for how."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from random import Random

import pytest
import sqlalchemy as sa

from storage.records import ExtensionStatus, InspectionStatus, TaskEventKind, TaskStatus
from storage.tables import outbox
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.resilience.chatcheck import ChatReport, compare, telegram_rows
from tests.resilience.crashbot import (
    PEOPLE,
    SITE,
    BotProcess,
    Crasher,
    Ledger,
    Observer,
    Person,
    Seeded,
    Simulation,
    TaskLedger,
    jpeg,
    seed,
)
from tests.resilience.invariants import violations
from tests.resilience.scale import scaled
from tests.resilience.world import FULL

KILLS = scaled(10, 100)
SEED = 20261127
LEVELS = {"1分": 1.0, "0.5分": 0.5, "0分": 0.0}


class Inspector:
    def __init__(self, sim: Simulation, person: Person) -> None:
        self.sim = sim
        self.me = person
        self.ledger = sim.ledger
        self.rng = person.rng
        self.kills_seen = 0
        self.rejected: set[int] = set()

    async def run(self) -> None:
        rounds = 0
        while rounds == 0 or not self.sim.crasher.finished.is_set():
            await self.inspection(rounds)
            rounds += 1
        self.sim.inspecting = False
        while any(t.status is not TaskStatus.DONE for t in self.ledger.tasks.values()):
            await self.reviews(None)
            await asyncio.sleep(0.05)

    def on_screen(self) -> tuple[int, int]:
        """(inspection, item) of the item on screen; counts checks right after a restart."""
        found = self.me.find("L:")
        assert found is not None, "no item on screen"
        _, insp, no = found[1].split(":")[1:4]
        if self.sim.crasher.done != self.kills_seen:
            self.kills_seen = self.sim.crasher.done
            self.ledger.resumed_checks += 1
        return int(insp), int(no)

    async def inspection(self, round_no: int) -> None:
        await self.me.command("inspect")
        await self.me.press("S:", SITE)
        insp, first = self.on_screen()
        assert first == 1
        self.ledger.inspections.append(insp)
        for item in FULL.items:
            await self.reviews(item.no)
            assert self.on_screen() == (insp, item.no), "the inspection went on elsewhere"
            roll = self.rng.random()
            if roll < 0.15:
                data = jpeg(f"r{round_no}-i{item.no}")
                await self.me.photo(data)
                self.ledger.photos.setdefault((insp, item.no), []).append(data)
            if 0.1 < roll < 0.2:
                note = f"第{item.no}项 第{round_no}轮 记录"
                await self.me.press("M:", "备注")
                await self.me.text(note)
                self.ledger.notes.setdefault((insp, item.no), []).append(note)
            if item.no > 1 and self.rng.random() < 0.05 and not self.open_task(insp, item.no - 1):
                await self.me.press("V:", "上一项")
                assert self.on_screen() == (insp, item.no - 1)
                await self.answer(insp, item.no - 1)
                assert self.on_screen() == (insp, item.no)
            await self.answer(insp, item.no)
        await self.me.press("SUB:", "提交检查")

    def open_task(self, insp: int, no: int) -> bool:
        """Whether the item has a task not yet 已完成: a changed answer would change the task
        (tests/flows/test_answer_changes.py) while its 责任人 may be fixing it."""
        return any(
            (t.inspection, t.item) == (insp, no) and t.status is not TaskStatus.DONE
            for t in self.ledger.tasks.values()
        )

    async def answer(self, insp: int, no: int) -> None:
        label = self.rng.choices(["1分", "0.5分", "0分", "不适用"], weights=[70, 10, 10, 10])[0]
        if label == "不适用":
            await self.me.press("NA:", label)
            self.ledger.answers.setdefault((insp, no), []).append((None, True))
            return
        await self.me.press("L:", label)
        self.ledger.answers.setdefault((insp, no), []).append((LEVELS[label], False))
        known = any((t.inspection, t.item) == (insp, no) for t in self.ledger.tasks.values())
        if LEVELS[label] == 1.0 or known:
            return
        chosen = None
        if self.rng.random() < 0.3:
            await self.me.press("TR:", "李四")
            chosen = self.sim.seeded.people["李四"]
        await self.me.press("TOK:", "确认创建")
        task_id, responsible = await self.sim.observer.task_for(insp, no)
        assert chosen in (None, responsible)
        self.ledger.tasks[task_id] = TaskLedger(task_id, insp, no, responsible)

    async def reviews(self, current: int | None) -> None:
        """Approve (or once per task send back) the fixes waiting for review."""
        for task in list(self.ledger.tasks.values()):
            if task.status is not TaskStatus.REVIEW:
                continue
            version = await self.sim.observer.task_version(task.id)
            if self.me.find(f"K:OK:{task.id}:{version}") is None:
                continue
            if task.id in self.rejected or self.rng.random() > 0.2:
                await self.me.press(f"K:OK:{task.id}:{version}")
                task.move(TaskStatus.DONE)
                continue
            self.rejected.add(task.id)
            await self.me.press(f"K:RJ:{task.id}:{version}")
            await self.me.text(f"整改任务 #{task.id} 照片不清楚")
            task.move(TaskStatus.OPEN)
            if current is not None:
                await self.me.command("resume")
                await self.me.press("R:")
                assert self.on_screen()[1] == current, "resumed at another item"


class Responsible:
    def __init__(self, sim: Simulation, person: Person) -> None:
        self.sim = sim
        self.me = person
        self.id = sim.seeded.people[person.name]

    async def run(self) -> None:
        while self.sim.inspecting or any(
            t.status is not TaskStatus.DONE for t in self.sim.ledger.tasks.values()
        ):
            for task in list(self.sim.ledger.tasks.values()):
                if task.responsible == self.id and task.status is TaskStatus.OPEN:
                    await self.fix(task)
            await asyncio.sleep(0.05)

    async def fix(self, task: TaskLedger) -> None:
        if task.extensions and task.extensions[-1] is ExtensionStatus.PENDING:
            return
        version = await self.sim.observer.task_version(task.id)
        if self.me.find(f"K:F:{task.id}:{version}") is None:
            return
        if not task.extensions and self.me.rng.random() < 0.25:
            await self.me.press(f"K:E:{task.id}:{version}")
            await self.me.press(f"K:ED:{task.id}:{version}:7")
            await self.me.text("需要等材料到货")
            task.extensions.append(ExtensionStatus.PENDING)
            return
        await self.me.press(f"K:F:{task.id}:{version}")
        for _ in range(self.me.rng.randint(1, 2)):
            data = jpeg(f"fix-{task.id}-{len(task.fix_photos)}")
            await self.me.photo(data)
            task.fix_photos.append(data)
        if self.me.rng.random() < 0.5:
            note = f"任务 #{task.id} 已整改 {len(task.fix_notes)}"
            await self.me.text(note)
            task.fix_notes.append(note)
        await self.me.press(f"K:FS:{task.id}:{version}")
        task.move(TaskStatus.REVIEW)


async def manager(sim: Simulation, me: Person) -> None:
    while sim.inspecting or any(t.status is not TaskStatus.DONE for t in sim.ledger.tasks.values()):
        for task in list(sim.ledger.tasks.values()):
            asked = task.extensions and task.extensions[-1] is ExtensionStatus.PENDING
            if asked and me.find(f"K:EA:{task.id}:") is not None:
                await me.press(f"K:EA:{task.id}:", "批准")
                task.extensions[-1] = ExtensionStatus.APPROVED
        await asyncio.sleep(0.05)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


@pytest.mark.timeout(scaled(300, 7200))
async def test_killed_and_restarted_bot_loses_and_repeats_nothing(
    fake: FakeTelegramAPI, tmp_path: Path
) -> None:
    began = time.monotonic()
    seeded = await seed(tmp_path, reminders=12)
    bot = BotProcess(fake, tmp_path)
    observer = Observer(tmp_path)
    await observer.db.open()
    rng = Random(SEED)
    ledger = Ledger()
    crasher = Crasher(bot, observer, fake, Random(rng.random()), KILLS)
    sim = Simulation(fake, bot, observer, crasher, ledger, seeded)
    for name, _, uid in PEOPLE:
        sim.people[name] = Person(name, fake.user(uid, name), sim, Random(rng.random()), ledger)
    await bot.start()
    users_done = asyncio.Event()
    killing = asyncio.create_task(crasher.run(users_done))
    try:
        try:
            async with asyncio.TaskGroup() as people:
                people.create_task(Inspector(sim, sim.people["王检查"]).run())
                people.create_task(Responsible(sim, sim.people["张三"]).run())
                people.create_task(Responsible(sim, sim.people["李四"]).run())
                people.create_task(manager(sim, sim.people["赵经理"]))
        finally:
            users_done.set()
            await killing
        assert await bot.stop() == 0
        duplicates = await verify(sim, seeded)
    finally:
        await bot.reap()
        await observer.db.close()
    redelivered = sum(1 for u in ledger.updates if fake.delivery_count(u) > 1)
    print(
        f"crash test: {sim.crasher.done} kills, {len(ledger.updates)} updates "
        f"({ledger.resends} sent again after a crash lost them, {redelivered} redelivered by "
        f"Telegram), {len(ledger.inspections)} inspections, {len(ledger.tasks)} tasks, "
        f"{ledger.resumed_checks} resumed-at-the-right-item checks, "
        f"{len(duplicates.duplicates)} in-flight messages sent twice, "
        f"{duplicates.messages} messages, {time.monotonic() - began:.0f} s"
    )
    assert sim.crasher.lost == 0, f"{sim.crasher.lost} update(s) lost in a crash"


async def verify(sim: Simulation, seeded: Seeded) -> ChatReport:
    ledger, db = sim.ledger, sim.observer.db
    assert sim.crasher.done == KILLS
    async with db.read() as tx:
        for insp in ledger.inspections:
            inspection = await tx.inspections.get(insp)
            assert inspection is not None and inspection.status is InspectionStatus.COMPLETED
            assert len(await tx.answers.for_inspection(insp)) == len(FULL.items)
        for (insp, no), expected in ledger.answers.items():
            history = await tx.answers.history(insp, no)
            assert [(r.score, r.not_applicable) for r in history] == expected, (insp, no)
        for insp in ledger.inspections:
            for item in FULL.items:
                photos = await tx.evidence.for_item(insp, item.no)
                wanted = ledger.photos.get((insp, item.no), [])
                assert sorted(p.sha256 for p in photos) == sorted(_sha(d) for d in wanted)
                notes = await tx.notes.for_item(insp, item.no)
                assert [n.text for n in notes] == ledger.notes.get((insp, item.no), [])
            made = {t.id for t in await tx.tasks.for_inspection(insp)}
            assert made == {t.id for t in ledger.tasks.values() if t.inspection == insp}
        for task in ledger.tasks.values():
            stored = await tx.tasks.get(task.id)
            assert stored is not None and stored.status is TaskStatus.DONE
            assert (stored.inspection_id, stored.item_no) == (task.inspection, task.item)
            events = await tx.tasks.events(task.id)
            moves = [(e.from_status, e.to_status) for e in events if e.kind is TaskEventKind.STATUS]
            assert moves == task.moves, task.id
            fixes = await tx.evidence.for_task(task.id)
            assert sorted(f.sha256 for f in fixes) == sorted(_sha(d) for d in task.fix_photos)
            assert [n.text for n in await tx.notes.for_task(task.id)] == task.fix_notes
            assert [e.status for e in await tx.tasks.extensions(task.id)] == task.extensions
        for task_id, due in seeded.reminders:
            (reminder,) = await tx.reminders.for_task(task_id)
            if due.timestamp() <= sim.bot.starts[-1]:
                assert reminder.sent_at is not None, f"reminder of task {task_id} never sent"
            texts = await tx.connection.scalars(
                sa.select(outbox.c.payload).where(outbox.c.chat_id == str(PEOPLE[2][2]))
            )
            mentions = sum(f"#{task_id} {SITE}" in p.get("text", "") for p in texts)
            assert mentions == (reminder.sent_at is not None), f"task {task_id}: {mentions}"
    for update_id in ledger.updates:
        query = sim.fake.update(update_id).get("callback_query")
        if query is not None and (await sim.observer.processed([update_id])):
            assert sim.fake.store.callbacks[query["id"]].answered, f"press {update_id}"
    report = compare(sim.fake, await telegram_rows(db), sim.crasher.tolerated)
    assert report.problems == []
    assert await violations(db) == []
    log = sim.bot.log.read_text(errors="replace")
    assert "Traceback" not in log and "failed; nothing was changed" not in log, log[-3000:]
    return report


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
