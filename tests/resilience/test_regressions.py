"""Bugs the resilience tests found, each pinned by a test that failed before its fix."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.core.texts import render
from bot.flows import commands
from storage.records import ExtensionStatus, Role, TaskStatus
from tests.resilience.fuzz import ErrorLog
from tests.resilience.invariants import BOOKKEEPING, snapshot, violations
from tests.resilience.world import FULL, WANG, WEB_WANG, WEB_ZHANG, ZHANG, ZHAO, Frozen, World

STALE = "这个按钮已失效，请使用最新的消息。"


@pytest.mark.parametrize("data", ["K", "K:F", "K:F:3", "K:D:3", "K:EA:3", "K:OK:1"])
async def test_truncated_task_buttons_are_stale(
    frozen: dict[str, Frozen], tmp_path: Path, data: str
) -> None:
    """Was: IndexError in tasks.press, answered with the generic error message."""
    world = await World.thaw(frozen["item"], tmp_path / "world")
    before = await snapshot(world.db, BOOKKEEPING)
    with ErrorLog() as errors:
        await world.press(ZHANG, data)
    assert errors.records == []
    assert world.chat_of(ZHANG).toasts[-1] == (STALE, True)
    assert await snapshot(world.db, BOOKKEEPING) == before
    await world.close()


async def test_fix_submitted_on_another_chat_ends_the_fix_here(
    frozen: dict[str, Frozen], tmp_path: Path
) -> None:
    """张三 starts a fix on Telegram, then submits it from the web chat. Was: the Telegram
    chat kept taking photos and notes for the task under review, offered 提交复查 again, and
    that press ended in TransitionError and the generic error message."""
    world = await World.thaw(frozen["fix"], tmp_path / "world")
    with ErrorLog() as errors:
        world.clock.advance(minutes=1)
        await world.tap(WEB_ZHANG, "已整改", "K:F:3:")
        await world.photo(WEB_ZHANG, b"fix from the web chat")
        await world.tap(WEB_ZHANG, "提交复查")
        world.clock.advance(minutes=1)
        await world.photo(ZHANG, b"late photo on telegram")
        await world.say(ZHANG, "late note on telegram")
        stale_submit = [d for m in world.chat_of(ZHANG).messages for r in m.buttons for _, d in r]
        await world.press(ZHANG, [d for d in stale_submit if d.startswith("K:FS:3:")][-1])
    assert errors.records == []
    idle_hint = render("idle_hint", commands=commands.allowed([Role.RESPONSIBLE]))
    assert world.chat_of(ZHANG).texts()[-2:] == [render("photo_no_item"), idle_hint]
    assert world.chat_of(ZHANG).toasts[-1] == (STALE, True)
    assert await violations(world.db) == []
    async with world.db.read() as tx:
        task = await tx.tasks.get(3)
        fixes = await tx.evidence.for_task(3)
        notes = await tx.notes.for_task(3)
    assert task is not None and task.status is TaskStatus.REVIEW
    assert len(fixes) == 1 and notes == []
    await world.close()


async def test_pause_button_of_an_inspection_paused_elsewhere_is_answered(
    frozen: dict[str, Frozen], tmp_path: Path
) -> None:
    """王检查 pauses on the web chat, then taps ⏸ 暂停 on Telegram's item message. Was: the
    press got a reply but was never acknowledged (the button kept spinning)."""
    world = await World.thaw(frozen["item"], tmp_path / "world")
    await world.command(WEB_WANG, "pause")
    toasts = len(world.chat_of(WANG).toasts)
    await world.tap(WANG, "暂停", "PA:")
    assert world.chat_of(WANG).toasts[toasts:] == [("", False)]
    assert world.chat_of(WANG).texts()[-1] == render("nothing_to_pause")
    await world.close()


async def test_extension_request_can_still_be_decided_after_the_task_moved(
    frozen: dict[str, Frozen], tmp_path: Path
) -> None:
    """张三 asked for more time on task #3, then submitted a fix that was sent back. Was: the
    manager's 批准/驳回 had gone stale with the task's version, and the request stayed
    pending for ever, so no new request could be made either."""
    world = await World.thaw(frozen["item"], tmp_path / "world")
    await world.tap(ZHANG, "已整改", "K:F:3:")
    await world.photo(ZHANG, b"fix")
    await world.tap(ZHANG, "提交复查")
    await world.tap(ZHAO, "批准", "K:EA:3:")
    assert world.chat_of(ZHAO).toasts[-1] == (STALE, True), "not while the fix is under review"
    await world.tap(WANG, "退回", "K:RJ:3:")
    await world.say(WANG, "照片看不清")
    await world.tap(ZHAO, "批准", "K:EA:3:")
    assert world.chat_of(ZHAO).toasts[-1] == ("", False)
    async with world.db.read() as tx:
        (request,) = await tx.tasks.extensions(3)
        task = await tx.tasks.get(3)
    assert request.status is ExtensionStatus.APPROVED
    assert task is not None and task.due_date == request.requested_due_date
    await world.tap(ZHANG, "申请延期", "K:E:3:")
    assert world.chat_of(ZHANG).toasts[-1] == ("", False)
    assert await violations(world.db) == []
    await world.close()


WORKER_PARENT = """
import os, sys, time
from bot.reports.service import process_pool
pool = process_pool()
worker = pool.submit(os.getpid).result()
with open(sys.argv[1] + ".tmp", "w") as out:
    out.write(str(worker))
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
"""


async def test_report_worker_ends_when_the_bot_is_killed(tmp_path: Path) -> None:
    """Was: a SIGKILLed bot left its report worker process (and the multiprocessing resource
    tracker) running for ever, 150–200 MB each, one more after every crash."""
    told = tmp_path / "worker.pid"
    bot = await asyncio.create_subprocess_exec(sys.executable, "-c", WORKER_PARENT, str(told))
    for _ in range(600):
        if await asyncio.to_thread(told.exists):
            break
        await asyncio.sleep(0.05)
    worker = int(await asyncio.to_thread(told.read_text))
    bot.send_signal(signal.SIGKILL)
    await bot.wait()
    for _ in range(100):
        if not await asyncio.to_thread(running, worker):
            break
        await asyncio.sleep(0.05)
    else:
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the report worker outlived the killed bot")


def running(pid: int) -> bool:
    """Whether the process exists and has not exited (a zombie has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_double_tap_on_note_takes_one_note(frozen: dict[str, Frozen], tmp_path: Path) -> None:
    """📝 备注 tapped twice (a double tap). Was: the chat stayed in note mode after the first
    note, so the next text became a second note instead of getting the item's text hint."""
    world = await World.thaw(frozen["item"], tmp_path / "world")
    tap = world.button(WANG, "备注", "M:")
    await world.press(WANG, tap)
    await world.press(WANG, tap)
    await world.say(WANG, "第一条备注")
    await world.say(WANG, "这不是备注")
    async with world.db.read() as tx:
        notes = await tx.notes.for_item(1, 4)
    assert [n.text for n in notes] == ["第一条备注"]
    assert render("text_hint", item=FULL.item(4)) in world.chat_of(WANG).texts()
    await world.close()


async def test_blank_reason_for_sending_a_fix_back_is_asked_again(
    frozen: dict[str, Frozen], tmp_path: Path
) -> None:
    """A reason of only (full-width) spaces. Was: TransitionError (退回需要说明原因) and the
    generic error message; now the reason is asked for again."""
    world = await World.thaw(frozen["reject_reason"], tmp_path / "world")
    with ErrorLog() as errors:
        await world.say(WANG, "\u3000 ")
        asked = render("ask_reject_reason", task_id=1, item=FULL.item(1))
        assert world.chat_of(WANG).texts()[-1] == asked
        await world.say(WANG, "照片看不清")
    assert errors.records == [], errors.describe(0)
    async with world.db.read() as tx:
        task = await tx.tasks.get(1)
    assert task is not None and task.status is TaskStatus.OPEN
    await world.close()
