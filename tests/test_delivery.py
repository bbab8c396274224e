"""The outbox worker and a row whose content is not ready yet (a report queued behind
others): the row goes back to the outbox without counting an attempt, its chat waits in
order, and every other chat's messages go out meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.delivery import MAX_ATTEMPTS, Delivery, NotReady, OutboxWorker
from bot.reports.request import ReportFormat, report_request
from storage import Database, upgrade
from storage.records import Channel, OutboxKind, OutboxMessage, OutboxStatus
from tests.flows.harness import Clock


async def test_unready_report_waits_without_holding_up_or_using_up_anything(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'pinjian.db'}"
    await upgrade(url)
    clock = Clock(datetime(2026, 11, 27, 8, 0, tzinfo=UTC))
    db = Database(url, clock=clock)
    await db.open()
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
    try:
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
    finally:
        await db.close()
