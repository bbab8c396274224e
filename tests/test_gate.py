"""The adapters' shared entry (bot.handlers.gate): command parsing, the already-seen and
bound-person checks before anything is fetched, and per-chat ordering."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.core.events import Channel, EventKind, Incoming, StoredFile
from bot.core.texts import render
from bot.handlers.gate import Arrival, Gate, as_command, parse_command
from tests.flows.harness import Harness


@pytest.fixture
async def harness(tmp_path: Path, database_url: str) -> AsyncIterator[Harness]:
    h = Harness(tmp_path, url=database_url)
    await h.start()
    yield h
    await h.close()


def event(user: str, key: str, kind: EventKind = EventKind.TEXT, **values: Any) -> Incoming:
    return Incoming(
        channel=Channel.TELEGRAM, user_id=user, chat_id=user, key=key, kind=kind, **values
    )


class Fetches:
    """A fetch that records each call and stores the file it "downloads"."""

    def __init__(self, sha256: str) -> None:
        self.sha256 = sha256
        self.calls: list[str] = []

    async def __call__(self, incoming: Incoming) -> Incoming | None:
        self.calls.append(incoming.key)
        return replace(incoming, file=StoredFile(self.sha256, 3, "image/jpeg", "f1"))


def photo(user: str, key: str) -> Incoming:
    unfetched = StoredFile(None, 3, "image/jpeg", "f1")
    return event(user, key, EventKind.PHOTO, file=unfetched)


async def bound(harness: Harness, gate: Gate, user: str) -> None:
    """Bind `user` to 王检查 with /start CODE typed as text."""
    seeded = await harness.seed()
    code = seeded["codes"]["王检查"]
    handled = await gate.handle(Arrival(event(user, "bind", text=f"/start {code}")))
    assert handled is not None and handled.kind is EventKind.COMMAND
    await harness.flush()


def test_typed_commands_are_parsed_once_for_every_channel() -> None:
    assert parse_command("/Inspect@PinjianBot  阳光花园 ") == ("inspect", "阳光花园")
    assert parse_command("/start") == ("start", "")
    assert parse_command("检查") is None
    assert parse_command(" /start") is None
    typed = event("1", "k", text="/tasks overdue")
    assert as_command(typed) == replace(
        typed, kind=EventKind.COMMAND, text="", command="tasks", args="overdue"
    )
    assert as_command(event("1", "k", text="记录齐全")).kind is EventKind.TEXT
    caption = event("1", "k", EventKind.PHOTO, text="/not-a-command")
    assert as_command(caption) is caption


async def test_a_stranger_gets_the_invite_answer_and_nothing_is_fetched(
    harness: Harness,
) -> None:
    gate = Gate(Channel.TELEGRAM, harness.engine, harness.db)
    fetch = Fetches("a" * 64)
    handled = await gate.handle(Arrival(photo("4242", "p1"), fetch=fetch))
    await harness.flush()
    assert fetch.calls == []
    assert handled is not None and handled.file is not None and handled.file.sha256 is None
    assert harness.chat("4242").texts() == [render("refused_stranger")]


async def test_a_typed_start_with_an_invite_binds_the_person(harness: Harness) -> None:
    gate = Gate(Channel.TELEGRAM, harness.engine, harness.db)
    await bound(harness, gate, "77")
    assert "王检查" in harness.chat("77").texts()[0]
    async with harness.db.read() as tx:
        assert await tx.identities.resolve(Channel.TELEGRAM, "77") is not None


async def test_a_bound_persons_file_is_fetched_once_and_a_redelivery_is_dropped_before(
    harness: Harness,
) -> None:
    gate = Gate(Channel.TELEGRAM, harness.engine, harness.db)
    await bound(harness, gate, "77")
    stored = await harness.files.put(b"\xff\xd8\xff")
    fetch = Fetches(stored.sha256)
    first = await gate.handle(Arrival(photo("77", "p1"), fetch=fetch))
    assert first is not None and first.file is not None and first.file.sha256 == stored.sha256
    await harness.flush()
    shown = len(harness.chat("77").messages)
    assert await gate.handle(Arrival(photo("77", "p1"), fetch=fetch)) is None
    await harness.flush()
    assert fetch.calls == ["p1"]
    assert len(harness.chat("77").messages) == shown


async def test_a_failed_fetch_hands_nothing_to_the_flows(harness: Harness) -> None:
    gate = Gate(Channel.TELEGRAM, harness.engine, harness.db)
    await bound(harness, gate, "77")

    async def fails(incoming: Incoming) -> Incoming | None:
        return None

    assert await gate.handle(Arrival(photo("77", "p2"), fetch=fails)) is None
    async with harness.db.read() as tx:
        assert not await tx.events.seen("telegram:p2")


async def test_one_chats_arrivals_run_in_order_and_a_waiting_caller_gets_its_outcome(
    harness: Harness,
) -> None:
    gate = Gate(Channel.WEB, harness.engine, harness.db)
    log: list[str] = []
    held = asyncio.Event()

    async def first() -> None:
        log.append("first")
        await held.wait()
        log.append("first done")

    async def second() -> str:
        log.append("second")
        return "answer"

    async def other_chat() -> None:
        log.append("other chat")

    async def broken() -> None:
        raise ValueError("broken")

    gate.submit("a", first)
    waiting = asyncio.create_task(gate.run("a", second))
    await gate.run("b", other_chat)
    assert log == ["first", "other chat"]
    held.set()
    assert await waiting == "answer"
    assert log == ["first", "other chat", "first done", "second"]
    with pytest.raises(ValueError, match="broken"):
        await gate.run("a", broken)
    assert await gate.run("a", second) == "answer"
    await gate.drain()
    assert gate.chats.in_hand == 0
