"""PerChat: one chat's updates in order, different chats at the same time, failures contained,
back-pressure for the receiver."""

from __future__ import annotations

import asyncio

import pytest

from bot.handlers.per_chat import PerChat, Work


def recorder(log: list[tuple[str, int]], chat: str, n: int, gate: asyncio.Event | None) -> Work:
    async def work() -> None:
        log.append((chat, n))
        if gate is not None:
            await gate.wait()
        log.append((chat, -n))

    return work


async def test_a_chat_runs_in_order_while_other_chats_go_on() -> None:
    chats = PerChat("test")
    log: list[tuple[str, int]] = []
    gate = asyncio.Event()
    chats.submit("a", recorder(log, "a", 1, gate))
    chats.submit("a", recorder(log, "a", 2, None))
    chats.submit("b", recorder(log, "b", 1, None))
    await asyncio.sleep(0.01)
    # a's first piece is held: a's second has not begun, b has finished.
    assert log == [("a", 1), ("b", 1), ("b", -1)]
    assert chats.in_hand == 2
    gate.set()
    await chats.join()
    assert log[3:] == [("a", -1), ("a", 2), ("a", -2)]
    assert chats.in_hand == 0


async def test_work_submitted_while_the_chat_runs_joins_its_queue() -> None:
    chats = PerChat("test")
    order: list[int] = []

    async def first() -> None:
        order.append(1)
        chats.submit("a", second)
        await asyncio.sleep(0)
        order.append(2)

    async def second() -> None:
        order.append(3)

    chats.submit("a", first)
    await chats.join()
    assert order == [1, 2, 3]


async def test_a_failure_is_logged_and_the_chat_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    chats = PerChat("test")
    done: list[str] = []

    async def boom() -> None:
        raise RuntimeError("broken update")

    async def after() -> None:
        done.append("after")

    chats.submit(1, boom)
    chats.submit(1, after)
    await chats.join()
    assert done == ["after"]
    assert chats.in_hand == 0
    assert "handling an update of chat 1 failed" in caplog.text


async def test_below_waits_until_work_in_hand_falls_under_the_limit() -> None:
    chats = PerChat("test")
    gate = asyncio.Event()
    log: list[tuple[str, int]] = []
    for n in range(3):
        chats.submit(f"c{n}", recorder(log, f"c{n}", n, gate))
    waiting = asyncio.create_task(chats.below(3))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    gate.set()
    await asyncio.wait_for(waiting, 1)
    await chats.below(3)
    await chats.join()
    assert chats.in_hand == 0


async def test_cancelled_work_leaves_nothing_in_hand() -> None:
    chats = PerChat("test")
    gate = asyncio.Event()
    log: list[tuple[str, int]] = []
    chats.submit("a", recorder(log, "a", 1, gate))
    chats.submit("a", recorder(log, "a", 2, gate))
    await asyncio.sleep(0)
    for task in list(chats._tasks):
        task.cancel()
    await chats.join()
    assert chats.in_hand == 0
    chats.submit("a", recorder(log, "a", 3, None))
    await chats.join()
    assert log[-2:] == [("a", 3), ("a", -3)]


async def test_run_waits_in_the_chats_turn_and_hands_back_the_outcome(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chats = PerChat("test")
    gate = asyncio.Event()
    log: list[tuple[str, int]] = []
    chats.submit("a", recorder(log, "a", 1, gate))

    async def answer() -> int:
        log.append(("a", 2))
        return 42

    async def boom() -> int:
        raise RuntimeError("broken request")

    waiting = asyncio.create_task(chats.run("a", answer))
    await asyncio.sleep(0.01)
    assert not waiting.done() and log == [("a", 1)]
    gate.set()
    assert await waiting == 42
    assert log == [("a", 1), ("a", -1), ("a", 2)]
    with pytest.raises(RuntimeError, match="broken request"):
        await chats.run("a", boom)
    assert "failed" not in caplog.text  # the caller was told; nothing to log
    assert chats.in_hand == 0


async def test_run_of_a_cancelled_chat_does_not_wait_for_ever() -> None:
    chats = PerChat("test")
    gate = asyncio.Event()
    log: list[tuple[str, int]] = []
    chats.submit("a", recorder(log, "a", 1, gate))
    waiting = asyncio.create_task(chats.run("a", recorder(log, "a", 2, None)))
    await asyncio.sleep(0)
    for task in list(chats._tasks):
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, 1)
    assert chats.in_hand == 0
