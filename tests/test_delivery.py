"""The outbox worker and a row whose content is not ready yet (a report queued behind
others): the row goes back to the outbox without counting an attempt, its chat waits in
order, and every other chat's messages go out meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import delivery
from bot.core.report_request import ReportFormat, report_request
from bot.delivery import MAX_ATTEMPTS, Delivery, DeliveryError, Handoff, NotReady, OutboxWorker
from storage.db import Database
from storage.migrate import upgrade
from storage.records import Channel, OutboxKind, OutboxMessage, OutboxStatus
from tests.flows.harness import Clock
from tests.storage.helpers import Statements


@pytest.fixture
async def opened(tmp_path: Path) -> AsyncIterator[tuple[Database, Clock]]:
    url = f"sqlite:///{tmp_path / 'pinjian.db'}"
    await upgrade(url)
    clock = Clock(datetime(2026, 11, 27, 8, 0, tzinfo=UTC))
    db = Database(url, clock=clock)
    await db.open()
    yield db, clock
    await db.close()


async def test_unready_report_waits_without_holding_up_or_using_up_anything(
    opened: tuple[Database, Clock],
) -> None:
    db, clock = opened
    sent: list[tuple[str, str]] = []
    unready = [MAX_ATTEMPTS + 2]

    async def prepare(message: OutboxMessage) -> dict[str, Any]:
        if unready[0] > 0:
            unready[0] -= 1
            raise NotReady(3)
        return {**message.payload, "document": "f" * 64, "document_name": "检查报告.xlsx"}

    async def send(delivery: Delivery) -> str:
        sent.append((delivery.message.chat_id, delivery.message.payload["text"]))
        return str(len(sent))

    report = {"text": "检查报告", **report_request(1, ReportFormat.XLSX)}
    async with db.transaction() as tx:
        row = await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND_DOCUMENT, report)
        await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "报告之后"})
        await tx.outbox.enqueue(Channel.TELEGRAM, "B", OutboxKind.SEND, {"text": "别的聊天"})
    worker = OutboxWorker(db, Channel.TELEGRAM, send, clock=clock, prepare=prepare)
    assert await worker.run_once() == 2
    assert sent == [("B", "别的聊天")]
    for _ in range(MAX_ATTEMPTS + 1):
        async with db.read() as tx:
            waiting = await tx.outbox.get(row.id)
        assert waiting is not None
        assert (waiting.status, waiting.attempts) == (OutboxStatus.PENDING, 0)
        assert waiting.not_before == clock.now + timedelta(seconds=3)
        assert await worker.run_once() == 0
        clock.now += timedelta(seconds=3)
        assert await worker.run_once() == 1
    assert unready == [0]
    async with db.read() as tx:
        waiting = await tx.outbox.get(row.id)
    assert waiting is not None
    assert (waiting.status, waiting.attempts) == (OutboxStatus.PENDING, 0)
    clock.now += timedelta(seconds=3)
    assert await worker.run_once() == 1
    assert sent == [("B", "别的聊天"), ("A", "检查报告"), ("A", "报告之后")]
    async with db.read() as tx:
        done = await tx.outbox.get(row.id)
    assert done is not None
    assert (done.status, done.attempts) == (OutboxStatus.SENT, 1)


async def test_a_chats_messages_go_out_as_one_chain_and_a_failure_gives_back_the_rest(
    opened: tuple[Database, Clock],
) -> None:
    """Due messages of a chat are leased together and sent in order; an edit of a message
    sent earlier in the same chain edits that message; when one fails, the ones behind it
    go back untried and follow it, in order, once it goes through."""
    db, clock = opened
    sent: list[tuple[str, str | None]] = []
    failures = [1]

    async def send(delivery: Delivery) -> str:
        text = delivery.message.payload["text"]
        if text == "会失败一次" and failures[0] > 0:
            failures[0] -= 1
            raise DeliveryError("network: TimedOut")
        sent.append((text, delivery.target_message_id))
        return delivery.target_message_id or str(len(sent))

    async with db.transaction() as tx:
        item = await tx.outbox.enqueue(
            Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "第1项"}, ref="i1"
        )
        edit = await tx.outbox.enqueue(
            Channel.TELEGRAM, "A", OutboxKind.EDIT, {"text": "第1项 ✓"}, edit_of_ref="i1"
        )
        flaky = await tx.outbox.enqueue(
            Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "会失败一次"}
        )
        behind = await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "随后"})
    worker = OutboxWorker(db, Channel.TELEGRAM, send, clock=clock)
    assert await worker.run_once() == 1
    assert sent == [("第1项", None), ("第1项 ✓", "1")]
    async with db.read() as tx:
        rows = {
            m.id: m
            for m in [await tx.outbox.get(i) for i in (item.id, edit.id, flaky.id, behind.id)]
            if m
        }
    assert [rows[i].status for i in (item.id, edit.id)] == [OutboxStatus.SENT] * 2
    assert rows[edit.id].channel_message_id == "1"
    assert (rows[flaky.id].status, rows[flaky.id].attempts) == (OutboxStatus.PENDING, 1)
    assert (rows[behind.id].status, rows[behind.id].attempts) == (OutboxStatus.PENDING, 0)
    assert rows[behind.id].claimed_by is None
    assert await worker.run_once() == 0  # the failed one waits for its retry, in order
    clock.now += timedelta(seconds=5)
    assert await worker.run_once() == 1
    assert sent[2:] == [("会失败一次", None), ("随后", None)]
    async with db.read() as tx:
        assert await tx.outbox.pending_count(Channel.TELEGRAM) == 0


async def test_independent_kinds_do_not_wait_for_the_chats_sends(
    opened: tuple[Database, Clock],
) -> None:
    """Telegram's callback answers and edits go out alongside a chat's sends (a slow send
    does not hold them up), while the sends keep their order."""
    db, clock = opened
    done: list[tuple[str, str | None]] = []
    gate = asyncio.Event()

    async def send(delivery: Delivery) -> str:
        text = delivery.message.payload["text"]
        if text == "慢":
            await gate.wait()
        done.append((text, delivery.target_message_id))
        return delivery.target_message_id or str(len(done))

    worker = OutboxWorker(
        db,
        Channel.TELEGRAM,
        send,
        clock=clock,
        independent=frozenset({OutboxKind.ANSWER_CALLBACK, OutboxKind.EDIT}),
    )
    async with db.transaction() as tx:
        await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "第1项"}, ref="i1")
    assert await worker.run_once() == 1
    async with db.transaction() as tx:
        for kind, text, edit_of in (
            (OutboxKind.ANSWER_CALLBACK, "已记录", None),
            (OutboxKind.SEND, "慢", None),
            (OutboxKind.EDIT, "第1项 ✓", "i1"),
            (OutboxKind.SEND, "随后", None),
        ):
            await tx.outbox.enqueue(
                Channel.TELEGRAM, "A", kind, {"text": text}, edit_of_ref=edit_of
            )
    running = asyncio.create_task(worker.run_once())
    for _ in range(100):
        if len(done) == 3:
            break
        await asyncio.sleep(0.01)
    assert done[1:] == [("已记录", None), ("第1项 ✓", "1")]
    gate.set()
    assert await running == 1
    assert done[3:] == [("慢", None), ("随后", None)]
    async with db.read() as tx:
        assert await tx.outbox.pending_count(Channel.TELEGRAM) == 0


async def _until(condition: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def test_handed_over_messages_go_out_on_commit_with_the_chats_next_message_first(
    opened: tuple[Database, Clock],
) -> None:
    """What a transaction queues is leased in it and sent as it commits: the worker here is
    never woken and would not claim for an hour. The message the person waits for (the
    chat's next one) is started before the button's answer and the edit."""
    db, clock = opened
    sent: list[tuple[str, str | None]] = []

    async def send(delivery: Delivery) -> str:
        sent.append((delivery.message.payload["text"], delivery.target_message_id))
        return delivery.target_message_id or str(len(sent))

    async with db.transaction() as tx:
        await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "第1项"}, ref="i1")
    worker = OutboxWorker(
        db,
        Channel.TELEGRAM,
        send,
        clock=clock,
        independent=frozenset({OutboxKind.ANSWER_CALLBACK, OutboxKind.EDIT}),
        idle_seconds=3600,
    )
    worker.start()
    await _until(lambda: len(sent) == 1)
    handoff = Handoff({Channel.TELEGRAM: worker})
    async with db.transaction() as tx:
        for kind, text, ref, edit_of in (
            (OutboxKind.ANSWER_CALLBACK, "已记录", None, None),
            (OutboxKind.EDIT, "第1项 ✓", None, "i1"),
            (OutboxKind.SEND, "第2项", "i2", None),
        ):
            await tx.outbox.enqueue(
                Channel.TELEGRAM, "A", kind, {"text": text}, ref=ref, edit_of_ref=edit_of
            )
        handed = await handoff.lease(tx)
        assert handed.wake == frozenset()
    handoff.committed(handed)
    await _until(lambda: len(sent) == 4)
    assert sent[1:] == [("第2项", None), ("已记录", None), ("第1项 ✓", "1")]
    await worker.stop()
    async with db.read() as tx:
        assert await tx.outbox.pending_count(Channel.TELEGRAM) == 0


async def test_a_chat_with_an_older_message_pending_is_left_to_the_claims_in_order(
    opened: tuple[Database, Clock],
) -> None:
    """A message that failed and waits for its retry holds its chat back: what a later
    transaction queues for that chat is not handed over (its worker is woken instead) and
    follows the older message once it goes through; other chats are handed over at once."""
    db, clock = opened
    sent: list[tuple[str, str]] = []
    failures = [1]

    async def send(delivery: Delivery) -> str:
        text = delivery.message.payload["text"]
        if text == "旧" and failures[0] > 0:
            failures[0] -= 1
            raise DeliveryError("network: TimedOut")
        sent.append((delivery.message.chat_id, text))
        return str(len(sent))

    async with db.transaction() as tx:
        await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "旧"})
    worker = OutboxWorker(db, Channel.TELEGRAM, send, clock=clock, idle_seconds=0.05)
    worker.start()

    async def failed_once() -> bool:
        async with db.read() as tx:
            return await tx.outbox.pending_count(Channel.TELEGRAM) == 1 and failures[0] == 0

    for _ in range(500):
        if await failed_once():
            break
        await asyncio.sleep(0.01)
    handoff = Handoff({Channel.TELEGRAM: worker})
    async with db.transaction() as tx:
        await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "新"})
        await tx.outbox.enqueue(Channel.TELEGRAM, "B", OutboxKind.SEND, {"text": "别的聊天"})
        handed = await handoff.lease(tx)
    assert handed.wake == {Channel.TELEGRAM}
    assert [
        [m.chat_id for m in chain.messages] for _, chains in handed.chains for chain in chains
    ] == [["B"]]
    handoff.committed(handed)
    await _until(lambda: len(sent) == 1)
    assert sent == [("B", "别的聊天")]
    clock.now += timedelta(seconds=2)
    await _until(lambda: len(sent) == 3)
    assert sent[1:] == [("A", "旧"), ("A", "新")]
    await worker.stop()


async def test_nothing_is_handed_over_from_a_transaction_that_rolls_back(
    opened: tuple[Database, Clock],
) -> None:
    db, clock = opened
    sent: list[str] = []

    async def send(delivery: Delivery) -> str:
        sent.append(delivery.message.payload["text"])
        return "1"

    worker = OutboxWorker(db, Channel.TELEGRAM, send, clock=clock, idle_seconds=0.05)
    worker.start()
    handoff = Handoff({Channel.TELEGRAM: worker})

    async def queue_then_fail() -> None:
        async with db.transaction() as tx:
            await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "撤销"})
            await handoff.lease(tx)
            raise RuntimeError("the flow failed after queueing")

    with pytest.raises(RuntimeError):
        await queue_then_fail()
    await asyncio.sleep(0.2)
    await worker.stop()
    assert sent == []
    async with db.read() as tx:
        assert await tx.outbox.pending_count(Channel.TELEGRAM) == 0


async def test_chats_handed_over_do_not_take_the_claims_slots(
    opened: tuple[Database, Clock],
) -> None:
    """Handed-over chats come on top of the claimed ones: with every claim slot's worth of
    chats handed over and still sending, a chat that needs a claim goes out at once."""
    db, clock = opened
    sent: list[str] = []
    gate = asyncio.Event()

    async def send(delivery: Delivery) -> str:
        if delivery.message.chat_id == "A":
            await gate.wait()
        sent.append(delivery.message.chat_id)
        return "1"

    worker = OutboxWorker(db, Channel.TELEGRAM, send, clock=clock, batch=1, idle_seconds=3600)
    worker.start()
    handoff = Handoff({Channel.TELEGRAM: worker})
    async with db.transaction() as tx:
        await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "慢"})
        handed = await handoff.lease(tx)
    handoff.committed(handed)
    async with db.transaction() as tx:
        await tx.outbox.enqueue(Channel.TELEGRAM, "B", OutboxKind.SEND, {"text": "认领"})
    worker.wake()
    await _until(lambda: sent == ["B"])
    gate.set()
    await _until(lambda: sent == ["B", "A"])
    await worker.stop()


async def test_messages_sent_together_are_marked_in_one_statement(
    opened: tuple[Database, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The marks written in one transaction are one executemany, and whether any of their
    chats has more waiting is one question."""
    db, clock = opened
    monkeypatch.setattr(delivery, "MARK_AFTER", 0.5)  # every send lands in one transaction
    statements = Statements(db, monkeypatch)

    async def send(delivery: Delivery) -> str:
        return f"m{delivery.message.id}"

    async with db.transaction() as tx:
        for n in range(50):
            await tx.outbox.enqueue(Channel.TELEGRAM, f"c{n % 18}", OutboxKind.SEND, {"n": n})
    worker = OutboxWorker(db, Channel.TELEGRAM, send, clock=clock)
    with statements.recording():
        assert await worker.run_once() == 18
    marks = [sets for sql, sets in statements.seen if "sent_at=" in sql]
    questions = [sets for sql, sets in statements.seen if "claimed_by IS NULL" in sql]
    assert (marks, questions) == ([50], [1])
    async with db.read() as tx:
        assert await tx.outbox.pending_count(Channel.TELEGRAM) == 0
        newest = await tx.outbox.newest_sent_named(Channel.TELEGRAM, "c0", ["m"])
    assert newest is not None
    assert (newest.payload, newest.channel_message_id) == ({"n": 36}, f"m{newest.id}")
