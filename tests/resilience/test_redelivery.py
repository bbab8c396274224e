"""Redelivery and reordering: every update delivered twice (through FlowEngine and through the
real Telegram adapter) and independent people's updates in shuffled orders; nothing is done
twice and the order between independent people changes nothing."""

from __future__ import annotations

import random
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.core.events import Incoming
from storage.records import TaskEventKind, TaskStatus
from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser
from tests.resilience.chatcheck import compare, telegram_rows
from tests.resilience.fuzz import ErrorLog, Player, random_step
from tests.resilience.invariants import snapshot, violations
from tests.resilience.scale import LONG, scaled
from tests.resilience.world import (
    FULL,
    INVITE_CODE,
    LI,
    QIAN,
    SITE_A,
    STATES,
    STRANGERS,
    SUN,
    WANG,
    ZHOU,
    Frozen,
    World,
)
from tests.telegram.botrunner import BotRunner

STEPS = scaled(150, 1000)
SHUFFLES = scaled(3, 40)
TWICE_STATES = sorted(STATES) if LONG else ["item", "task", "fix", "reject_reason", "ext_reason"]
Journal = list[tuple[datetime, Incoming]]


async def replay(frozen: Frozen, dest: Path, journal: Journal, files: Path) -> World:
    world = await World.thaw(frozen, dest)
    shutil.copytree(files, world.files.root, dirs_exist_ok=True)
    return world


def chats(world: World) -> dict[Any, Any]:
    """What each chat shows, in order (message ids are global, so left out)."""
    return {
        key: ([(m.text, m.buttons, m.photos, m.edits) for m in chat.messages], chat.toasts)
        for key, chat in world.chats.items()
    }


@pytest.mark.parametrize("state", TWICE_STATES)
async def test_every_event_twice_changes_nothing_twice(
    frozen: dict[str, Frozen], tmp_path: Path, state: str
) -> None:
    once = await World.thaw(frozen[state], tmp_path / "once")
    rng = random.Random(f"twice-{state}")
    with ErrorLog() as errors:
        player = Player(once, STATES[state][0], errors)
        for _ in range(STEPS):
            await player.play(random_step(rng))
    expected, expected_chats = await snapshot(once.db), chats(once)
    await once.close()

    twice = await replay(frozen[state], tmp_path / "twice", once.journal, once.files.root)
    pending: list[tuple[int, Incoming]] = []
    for index, (moment, event) in enumerate(once.journal):
        twice.clock.now = moment
        assert await twice.send(event)
        pending.append((index + rng.randrange(6), event))
        for due in [p for p in pending if p[0] <= index]:
            pending.remove(due)
            assert not await twice.send(due[1]), "a redelivered event was handled again"
    for _, event in pending:
        assert not await twice.send(event)
    assert without_message_ids(await snapshot(twice.db)) == without_message_ids(expected)
    assert chats(twice) == expected_chats
    assert await violations(twice.db) == []
    await twice.close()


Lane = Callable[[World], Awaitable[None]]


async def lane_inspector_a(world: World) -> None:
    """王检查 carries on with site A's inspection: photos, notes, answers, navigation."""
    await world.photo(WANG, b"lane-a-photo")
    await world.tap(WANG, "备注", "M:")
    await world.say(WANG, "记录齐全")
    for _ in range(3):
        await world.tap(WANG, "1分", "L:")
    await world.tap(WANG, "上一项")
    await world.tap(WANG, "不适用")
    await world.tap(WANG, "目录")
    await world.tap(WANG, "二、", "CS:")
    await world.tap(WANG, "25", "J:")
    await world.tap(WANG, "1分", "L:")
    await world.command(WANG, "status")


async def lane_site_b(world: World) -> None:
    """Site B: a new task for 孙五, fixed and approved; an extension for task #4, approved."""
    await world.tap(QIAN, "0分", "L:")
    await world.tap(QIAN, "确认创建")
    await world.tap(SUN, "已整改", "K:F:5:")
    await world.photo(SUN, b"lane-b-fix")
    await world.tap(SUN, "提交复查")
    await world.tap(QIAN, "通过", "K:OK:5:")
    await world.tap(SUN, "申请延期", "K:E:4:")
    await world.tap(SUN, "+15天")
    await world.say(SUN, "雨季施工")
    await world.tap(ZHOU, "批准", "K:EA:4:")
    await world.command(ZHOU, "stats")


async def lane_others(world: World) -> None:
    """Strangers knocking, 李四 asking for his tasks, a newcomer binding by invite."""
    await world.say(STRANGERS[0], "你好")
    await world.command(STRANGERS[1], "inspect")
    await world.press(STRANGERS[0], "K:OK:1:2")
    await world.command(LI, "tasks")
    await world.command(STRANGERS[1], "start", INVITE_CODE)
    await world.command(STRANGERS[1], "inspect")
    await world.command(LI, "help")


LANES = (lane_inspector_a, lane_site_b, lane_others)
KEYED = {"sites", "people", "tasks", "inspections", "standards", "conversations", "identities"}
DELIVERY = ("id", "channel_message_id", "sent_at", "claimed_by", "claim_expires_at")


def without_message_ids(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The tables with the outbox's channel message ids left out: the fake platform numbers
    messages across all chats, so they follow the order in which independent chats were
    delivered (each chat's own messages are compared in order by `chats`)."""
    return {
        table: [
            {k: v for k, v in row.items() if not (table == "outbox" and k == "channel_message_id")}
            for row in entries
        ]
        for table, entries in rows.items()
    }


def canonical(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    """Tables as sorted rows without the ids and delivery details that depend on the order
    in which independent rows were written (ids other rows refer to are kept)."""
    result = {}
    for table, entries in rows.items():
        drop = () if table in KEYED else DELIVERY
        result[table] = sorted(
            repr(sorted((k, v) for k, v in row.items() if k not in drop)) for row in entries
        )
    return result


@pytest.fixture
async def lanes(frozen: dict[str, Frozen], tmp_path: Path) -> list[Journal]:
    """Each lane's events, recorded by playing the lane alone."""
    journals = []
    for index, lane in enumerate(LANES):
        world = await World.thaw(frozen["item"], tmp_path / f"lane{index}", keys_from=index * 10**6)
        await lane(world)
        journals.append(world.journal)
        shutil.copytree(world.files.root, tmp_path / "files", dirs_exist_ok=True)
        await world.close()
    return journals


async def test_independent_people_in_any_order_give_the_same_result(
    frozen: dict[str, Frozen], tmp_path: Path, lanes: list[Journal]
) -> None:
    async def run(order: list[int], name: str) -> tuple[dict[str, list[str]], dict[Any, Any]]:
        world = await replay(frozen["item"], tmp_path / name, [], tmp_path / "files")
        cursors = [iter(journal) for journal in lanes]
        for lane in order:
            moment, event = next(cursors[lane])
            world.clock.now = moment
            assert await world.send(event)
        assert await violations(world.db) == []
        result = canonical(await snapshot(world.db)), chats(world)
        await world.close()
        return result

    sequential = [lane for lane, journal in enumerate(lanes) for _ in journal]
    expected = await run(sequential, "sequential")
    rng = random.Random("shuffles")
    for attempt in range(SHUFFLES):
        order = list(sequential)
        rng.shuffle(order)
        got = await run(order, f"shuffle{attempt}")
        assert got[0] == expected[0], f"database differs for order {order}"
        assert got[1] == expected[1], f"a chat differs for order {order}"


# ---------------------------------------------------------------------- Telegram


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


async def test_every_telegram_update_delivered_twice(fake: FakeTelegramAPI, tmp_path: Path) -> None:
    bot = BotRunner(fake, tmp_path)
    await bot.start()
    seeded = await bot.seed()
    inspector, zhang = fake.user(5001, "王检查"), fake.user(5002, "张三")
    photo = b"\xff\xd8\xff\xe0" + b"twice" * 50

    async def twice(action: Awaitable[int]) -> int:
        update_id = await bot.act(action)
        fake.redeliver(update_id)
        await fake.wait_for(lambda: fake.delivery_count(update_id) == 2)
        return update_id

    async def tap(user: FakeUser, label: str) -> int:
        message = bot.keyboard(user.id)
        data = next(d for t, d in message.buttons() if label in t and d)
        return await twice(user.press(message, data))

    await twice(inspector.send_command("start", seeded["codes"]["王检查"]))
    await twice(zhang.send_command("start", seeded["codes"]["张三"]))
    await twice(inspector.send_command("inspect"))
    await tap(inspector, SITE_A)
    await twice(inspector.send_photo(photo))
    await tap(inspector, "备注")
    await twice(inspector.send_text("缺少签字"))
    await tap(inspector, "0分")
    await tap(inspector, "确认创建")
    for _ in range(3):
        await tap(inspector, "1分")
    await tap(inspector, "上一项")
    await tap(inspector, "不适用")
    await tap(zhang, "已整改")
    await twice(zhang.send_photo(photo + b"after"))
    await tap(zhang, "提交复查")
    await tap(inspector, "通过")
    await bot.act(inspector.send_command("status"))
    await bot.act(zhang.send_command("help"))

    async with bot.db.read() as tx:
        histories = [await tx.answers.history(1, no) for no in range(1, 6)]
        photos = await tx.evidence.for_inspection(1)
        fixes = await tx.evidence.for_task(1)
        notes = await tx.notes.for_inspection(1)
        tasks = await tx.tasks.for_inspection(1)
        events = await tx.tasks.events(1)
    assert [len(h) for h in histories] == [1, 1, 1, 2, 0]
    assert len(photos) == 1 and len(fixes) == 1 and len(notes) == 1
    assert [t.status for t in tasks] == [TaskStatus.DONE]
    assert [e.to_status for e in events if e.kind is TaskEventKind.STATUS] == [
        TaskStatus.REVIEW,
        TaskStatus.DONE,
    ]
    report = compare(fake, await telegram_rows(bot.db))
    assert report.problems == [] and report.duplicates == []
    assert all(state.answered for state in fake.store.callbacks.values())
    assert len(fake.downloads) == len(set(fake.downloads)) == 2, "a photo downloaded twice"
    assert await violations(bot.db) == []
    assert FULL.items[0].no == 1
    await bot.stop()
