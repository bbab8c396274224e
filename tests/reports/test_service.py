"""ReportService: rendering off the event loop, storing once, and the outbox hook that sends
the report files at the end of an inspection."""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.core.report_request import ReportFormat, new_request, report_request
from bot.delivery import Delivery, DeliveryError, NotReady
from bot.reports import model as report_model
from bot.reports.service import RENDER_NICENESS, RenderedFile, ReportService
from storage.records import Channel, OutboxKind, OutboxMessage, OutboxStatus, TaskStatus
from tests.flows.harness import Harness
from tests.flows.test_inspection import STANDARD, answer_all, begin, inspector
from tests.reports.data import Built, populate


class CountingExecutor(Executor):
    """Runs the work in the shared worker process and counts the renderings."""

    def __init__(self, pool: ProcessPoolExecutor) -> None:
        self.pool = pool
        self.calls = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.pool.submit(fn, *args, **kwargs)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(tmp_path)
    await h.start()
    yield h
    await h.close()


async def test_each_file_is_rendered_once_and_stored(
    built: Built, pool: ProcessPoolExecutor
) -> None:
    executor = CountingExecutor(pool)
    service = ReportService(built.db, executor=executor)
    xlsx, again, pdf = await asyncio.gather(
        service.render(built.inspection_id, ReportFormat.XLSX),
        service.render(built.inspection_id, ReportFormat.XLSX),
        service.render(built.inspection_id, ReportFormat.PDF),
    )
    assert xlsx == again and executor.calls == 2
    assert xlsx.filename == (
        f"检查报告_阳光花园_社区文化管理_2026-11-02_{built.inspection_id}_生成20261102-090000.xlsx"
    )
    assert xlsx.mime.endswith("spreadsheetml.sheet") and pdf.mime == "application/pdf"
    stored = await built.db.files.get(xlsx.sha256)
    assert len(stored) == xlsx.size
    assert load_workbook(io.BytesIO(stored))["检查表"]["A1"].value.startswith("物业服务")
    assert (await built.db.files.get(pdf.sha256)).startswith(b"%PDF-")
    assert await service.render(built.inspection_id, ReportFormat.XLSX) == xlsx
    assert executor.calls == 2
    async with built.db.transaction() as tx:
        task = next(t for t in await tx.tasks.for_inspection(built.inspection_id) if t.item_no == 7)
        await tx.tasks.transition(task.id, task.version, TaskStatus.REVIEW, actor_id=None)
    built.clock.now += timedelta(minutes=30)
    changed = await service.render(built.inspection_id, ReportFormat.XLSX)
    assert changed.sha256 != xlsx.sha256 and executor.calls == 3
    # Downloaded next to the first one, the regenerated file never looks like a duplicate.
    assert changed.filename == xlsx.filename.replace("生成20261102-090000", "生成20261102-093000")


def _row(kind: OutboxKind, payload: dict[str, Any]) -> OutboxMessage:
    moment = datetime(2026, 11, 2, tzinfo=UTC)
    return OutboxMessage(
        id=1,
        channel=Channel.TELEGRAM,
        chat_id="1",
        person_id=None,
        kind=kind,
        payload=payload,
        ref=None,
        edit_of_ref=None,
        not_before=moment,
        created_at=moment,
        attempts=1,
        last_error=None,
        claimed_by=None,
        claim_expires_at=None,
        sent_at=None,
        channel_message_id=None,
        status=OutboxStatus.PENDING,
    )


async def test_prepare_behind_a_long_render_queue_hands_the_row_back(
    built: Built, pool: ProcessPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ReportService(built.db, executor=pool)
    gate = hold_renders(service, monkeypatch)
    row = _row(OutboxKind.SEND_DOCUMENT, report_request(built.inspection_id, ReportFormat.XLSX))
    with pytest.raises(NotReady) as waiting:
        await service.prepare(row)
    assert waiting.value.retry_after > 0
    with pytest.raises(NotReady):
        await service.prepare(row)
    gate.set()
    rendered = await service.render(built.inspection_id, ReportFormat.XLSX)
    prepared = await service.prepare(row)
    assert prepared["document"] == rendered.sha256
    assert prepared["document_name"].endswith(".xlsx")


async def test_prepare_turns_requests_into_files(built: Built, pool: ProcessPoolExecutor) -> None:
    service = ReportService(built.db, executor=pool)
    plain = {"text": "hi", "photos": []}
    assert await service.prepare(_row(OutboxKind.SEND, plain)) == plain
    chart = report_request(built.inspection_id, ReportFormat.PNG)
    prepared = await service.prepare(_row(OutboxKind.SEND_PHOTO, {"text": "图表", **chart}))
    png = await built.db.files.get(prepared["photos"][0])
    assert png.startswith(b"\x89PNG") and prepared["text"] == "图表"
    pdf = report_request(built.inspection_id, ReportFormat.PDF)
    prepared = await service.prepare(_row(OutboxKind.SEND_DOCUMENT, pdf))
    assert prepared["document_name"].endswith(".pdf")
    assert (await built.db.files.get(prepared["document"])).startswith(b"%PDF-")
    with pytest.raises(DeliveryError, match="没有编号为 999 的检查") as refused:
        await service.prepare(_row(OutboxKind.SEND_DOCUMENT, report_request(999, ReportFormat.PDF)))
    assert refused.value.permanent


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The inspections whose report model is read (bot.reports.model.build), in order."""
    reads: list[int] = []
    real = report_model.build

    async def counted(tx: Any, inspection_id: int) -> report_model.ReportModel:
        reads.append(inspection_id)
        return await real(tx, inspection_id)

    monkeypatch.setattr(report_model, "build", counted)
    return reads


def hold_renders(service: ReportService, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Renders wait for the returned event, and rows never wait for a render (NotReady)."""
    gate = asyncio.Event()
    real = service.render_bytes

    async def held(model: Any, fmt: ReportFormat) -> bytes:
        await gate.wait()
        return await real(model, fmt)

    monkeypatch.setattr(service, "render_bytes", held)
    monkeypatch.setattr("bot.reports.service.WAIT_WHEN_AT_MOST", 0)
    return gate


async def test_a_submissions_report_rows_read_the_model_once(
    harness: Harness, pool: ProcessPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six rows (three files to the inspector and to a manager), each handed back while its
    file is drawn and tried again later: one model read in all."""
    user, seeded = await inspector(harness)
    manager = harness.user(104)
    await manager.command("start", seeded["codes"]["赵经理"])
    service = ReportService(harness.db, executor=pool)
    gate = hold_renders(service, monkeypatch)
    sent: list[OutboxMessage] = []
    record = harness.worker.send

    async def sender(delivery: Delivery) -> str | None:
        sent.append(delivery.message)
        return await record(delivery)

    harness.worker.send = sender
    harness.worker.prepare = service.prepare
    reads = count_reads(monkeypatch)
    await begin(user)
    await answer_all(user)
    await user.tap("提交检查")
    assert len(reads) == 1
    async with harness.db.read() as tx:
        assert await tx.outbox.pending_count() >= 6
    gate.set()
    deadline = time.monotonic() + 120
    while True:
        harness.clock.now += timedelta(minutes=1)  # past each row's retry time
        await harness.flush()
        async with harness.db.read() as tx:
            if await tx.outbox.pending_count() == 0:
                break
        assert time.monotonic() < deadline, "the report rows were never sent"
        await asyncio.sleep(0.05)
    files = {
        chat: [
            (m.payload["format"], m.payload["document"] or m.payload["photos"][0])
            for m in sent
            if m.chat_id == chat and "format" in m.payload
        ]
        for chat in ("101", "104")
    }
    assert [fmt for fmt, _ in files["101"]] == ["png", "xlsx", "pdf"]
    assert files["101"] == files["104"]
    assert len(reads) == 1


async def test_a_later_request_reads_the_model_again(
    built: Built, pool: ProcessPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request's rows share its read even after a change; the next request sees the change
    and gets a new file; a row without a token (queued before rows had one) reads each time,
    and a read that failed is tried again."""
    service = ReportService(built.db, executor=pool)
    reads = count_reads(monkeypatch)
    first = new_request()

    def row(fmt: ReportFormat, asked: str | None) -> OutboxMessage:
        return _row(OutboxKind.SEND_DOCUMENT, report_request(built.inspection_id, fmt, asked))

    xlsx = (await service.prepare(row(ReportFormat.XLSX, first)))["document"]
    pdf = (await service.prepare(row(ReportFormat.PDF, first)))["document"]
    assert len(reads) == 1
    async with built.db.transaction() as tx:
        task = next(t for t in await tx.tasks.for_inspection(built.inspection_id) if t.item_no == 7)
        await tx.tasks.transition(task.id, task.version, TaskStatus.REVIEW, actor_id=None)
    built.clock.now += timedelta(minutes=30)
    assert (await service.prepare(row(ReportFormat.XLSX, first)))["document"] == xlsx
    assert len(reads) == 1
    later = new_request()
    changed = (await service.prepare(row(ReportFormat.XLSX, later)))["document"]
    assert changed != xlsx and len(reads) == 2
    assert (await service.prepare(row(ReportFormat.PDF, later)))["document"] != pdf
    assert len(reads) == 2
    assert (await service.prepare(row(ReportFormat.XLSX, None)))["document"] == changed
    assert (await service.prepare(row(ReportFormat.XLSX, None)))["document"] == changed
    assert len(reads) == 4
    unknown = _row(OutboxKind.SEND_DOCUMENT, report_request(999, ReportFormat.PDF, later))
    for _ in range(2):
        with pytest.raises(DeliveryError):
            await service.prepare(unknown)
    assert reads[4:] == [999, 999]


async def test_completion_sends_chart_excel_and_pdf_to_inspector_and_manager(
    harness: Harness, pool: ProcessPoolExecutor
) -> None:
    user, seeded = await inspector(harness)
    manager = harness.user(104)
    await manager.command("start", seeded["codes"]["赵经理"])
    service = ReportService(harness.db, executor=pool)
    delivered: list[Delivery] = []
    record = harness.worker.send

    async def sender(delivery: Delivery) -> str | None:
        delivered.append(delivery)
        return await record(delivery)

    harness.worker.send = sender
    harness.worker.prepare = service.prepare
    await begin(user)
    await answer_all(user)
    await user.tap("提交检查")
    files = [d.message for d in delivered if d.message.kind is not OutboxKind.SEND][-6:]
    by_chat: dict[str, list[OutboxMessage]] = {}
    for message in files:
        by_chat.setdefault(message.chat_id, []).append(message)
    assert set(by_chat) == {"101", "104"}
    for chat_id, messages in by_chat.items():
        assert [m.kind for m in messages] == [
            OutboxKind.SEND_PHOTO,
            OutboxKind.SEND_DOCUMENT,
            OutboxKind.SEND_DOCUMENT,
        ], chat_id
        chart, xlsx, pdf = messages
        assert "各章节得分率" in chart.payload["text"]
        assert (await harness.files.get(chart.payload["photos"][0])).startswith(b"\x89PNG")
        assert xlsx.payload["document_name"].startswith("检查报告_阳光花园_社区文化管理_")
        workbook = load_workbook(io.BytesIO(await harness.files.get(xlsx.payload["document"])))
        assert workbook["检查表"]["A3"].value.startswith("总分：49 / 58（84.5%）")
        assert (await harness.files.get(pdf.payload["document"])).startswith(b"%PDF-")
    assert by_chat["101"][1].payload["document"] == by_chat["104"][1].payload["document"]
    completion = next(t for t in user.chat.texts() if t.startswith("<b>检查完成"))
    assert "总分 <b>49 / 58</b>" in completion
    # The manager's chat shows the chart (the site's 项目确认 messages come after the files).
    chart_shown = next(m for m in harness.chat(104).messages if "各章节得分率" in m.text)
    assert user.chat.last.photos == [] and chart_shown.photos
    async with harness.db.read() as tx:
        assert await tx.outbox.pending_count() == 0


async def test_without_a_renderer_report_rows_fail_for_good(harness: Harness) -> None:
    """A worker that was given no `prepare` hook cannot send a report file: the row is given
    up at once rather than retried for hours."""
    async with harness.db.transaction() as tx:
        await tx.outbox.enqueue(
            Channel.TELEGRAM,
            "1",
            OutboxKind.SEND_DOCUMENT,
            report_request(1, ReportFormat.PDF),
        )
    await harness.flush()
    async with harness.db.read() as tx:
        row = await tx.outbox.get(1)
    assert row is not None and row.status is OutboxStatus.DEAD
    assert harness.chat(1).messages == []


async def test_buttons_keep_answering_while_a_report_renders(
    harness: Harness, pool: ProcessPoolExecutor
) -> None:
    """While the PDF of an inspection with 60 full-size photos renders, another inspector's
    button presses go through FlowEngine and the outbox as usual, and fast."""
    built = await populate(
        harness.db,
        harness.clock,
        site_name="绿城小区",
        photos=60,
        photo_size=(1600, 1200),
        noise=20,
    )
    user, _ = await inspector(harness)
    await begin(user)
    service = ReportService(harness.db, executor=pool)
    await service.render(built.inspection_id, ReportFormat.PNG)  # the worker has started
    quiet = []
    for item in STANDARD.items[:3]:
        started = time.perf_counter()
        await user.tap(f"1分 {item.levels[0].label}")
        quiet.append(time.perf_counter() - started)
    rendering = asyncio.create_task(service.render(built.inspection_id, ReportFormat.PDF))
    await asyncio.sleep(0.05)
    busy = []
    for item in STANDARD.items[3:13]:
        started = time.perf_counter()
        await user.tap(f"1分 {item.levels[0].label}")
        busy.append(time.perf_counter() - started)
    assert not rendering.done(), "every press was answered before the report was finished"
    rendered: RenderedFile = await rendering
    assert rendered.size > 1_000_000
    assert "第 14/62 项" in user.chat.last.text
    print(f"button presses: idle {quiet}, while rendering {busy}")
    assert max(busy) < max(0.5, 5 * max(quiet)), (quiet, busy)


def test_the_render_worker_runs_below_the_bots_cpu_priority(pool: ProcessPoolExecutor) -> None:
    ours = os.nice(0)
    assert pool.submit(os.nice, 0).result(timeout=60) == min(19, ours + RENDER_NICENESS)
    if hasattr(os, "SCHED_IDLE"):
        assert os.sched_getscheduler(0) != os.SCHED_IDLE
        assert pool.submit(os.sched_getscheduler, 0).result(timeout=60) == os.SCHED_IDLE
