"""Rendering report files for the bot without stalling it.

A report with dozens of photos takes seconds of CPU in openpyxl, fpdf2 and matplotlib, which are
pure Python and hold the GIL. In a thread that would slow every other user's button press (the
event loop waits for the GIL at each await), so rendering runs in a worker process; the loop
only reads the model and the photos, and stores the result (see docs/REPORTS.md for figures).

Each file is stored once in the evidence store (content-addressed) and remembered per
(inspection, format, model hash): the inspector's and the managers' copies are one rendering,
and a report is drawn again only when what it shows has changed.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import re
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.dates import local
from bot.core.report_request import ReportFormat, asked, requested
from bot.core.texts import label, plain
from bot.delivery import DeliveryError, NotReady
from bot.reports import renditions
from bot.reports.bulletin_model import BulletinModel
from bot.reports.model import ReportError, ReportModel, load_report
from storage.db import Database
from storage.errors import EvidenceMissing
from storage.evidence import EvidenceStore
from storage.records import OutboxKind, OutboxMessage

log = logging.getLogger(__name__)

CACHE_SIZE = 512
# A row whose file is not rendered yet waits for it (up to READY_WAIT seconds) only while few
# renders are queued; behind a longer queue (many inspections finished at once) it goes back
# to the outbox (NotReady) for about the queue's length, so that report rows never hold up
# other chats' messages.
READY_WAIT = 5.0
# Added to the render worker's niceness: the scheduler prefers the bot's process to it. On
# Linux the worker also runs as SCHED_IDLE: only on CPU time nothing else wants, and it gives
# way at once when the bot (or the database on the same machine) wakes.
RENDER_NICENESS = 10
WAIT_WHEN_AT_MOST = 4
# Retry after about the time the queue ahead takes (a file takes about a second to render).
RETRY_PER_QUEUED = 1.0
RETRY_RANGE = (3.0, 60.0)
_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')


@dataclass(frozen=True)
class RenderedFile:
    sha256: str
    filename: str
    mime: str
    size: int


def filename(model: ReportModel, fmt: ReportFormat, made: datetime) -> str:
    """E.g. 检查报告_阳光花园_社区文化管理_2026-11-02_12_生成20261206-154712.xlsx (safe on every
    file system). A report is made again only when what it shows changed, and the moment it
    was made (site time) tells the two files apart: never two downloads of one name."""
    title = model.title.split("——")[-1]
    version = plain("report", "file_made", made=local(made, model.timezone))
    prefix = label("report", "file_prefix")
    parts = (prefix, model.site, title, model.completed[:10], str(model.inspection_id), version)
    return "_".join(_UNSAFE.sub("-", part) for part in parts) + f".{fmt.value}"


def _render_in_worker(fmt: str, model: ReportModel, photos: Mapping[str, bytes]) -> bytes:
    # Imported here so that only the worker process loads openpyxl, fpdf2 and matplotlib.
    from bot.reports.render import render

    return render(ReportFormat(fmt), model, photos)


def _bulletin_in_worker(fmt: str, model: BulletinModel) -> bytes:
    from bot.reports.bulletin_render import render_bulletin

    return render_bulletin(fmt, model)


def _worker_start(parent: int) -> None:
    """In the worker: run below the bot's CPU priority, leave Ctrl-C to the bot, and end once
    the bot is gone.

    Rendering is background work: a report rendered at the bot's priority takes CPU from
    every tap meanwhile (docs/BENCHMARKS.md). Ctrl-C in a terminal interrupts the whole
    process group: the worker would die of KeyboardInterrupt with a traceback, while the bot
    stops it in order on its own shutdown. A bot that is killed (or crashes) cannot shut its
    pool down, and the worker would otherwise wait for work for ever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(os, "nice"):
        os.nice(RENDER_NICENESS)
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        # For the calling thread, and the threads it starts later (the worker has no others).
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-bot", daemon=True).start()


def process_pool() -> ProcessPoolExecutor:
    """One worker process, started fresh ("spawn": forking a process with running threads —
    the database driver's, the loop's — is unsafe). One at a time also bounds memory."""
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_start,
        initargs=(os.getpid(),),
    )


@dataclass(frozen=True)
class _Read:
    """A report's model as one request read it, with its content hash."""

    model: ReportModel
    content_hash: str


class ReportService:
    def __init__(self, db: Database, *, executor: Executor | None = None) -> None:
        self.db = db
        self._executor = executor
        self._owns_executor = executor is None
        self._done: dict[tuple[int, ReportFormat, str], RenderedFile] = {}
        self._running: dict[tuple[int, ReportFormat, str], asyncio.Task[RenderedFile]] = {}
        # The same renders by what rows ask for, so that asking again costs no model load.
        self._requested: dict[tuple[int, ReportFormat], asyncio.Task[RenderedFile]] = {}
        # The model each request (inspection, token) read, least recently asked first.
        self._reads: OrderedDict[tuple[int, str], asyncio.Task[_Read]] = OrderedDict()

    async def close(self) -> None:
        if self._owns_executor and self._executor is not None:
            await asyncio.to_thread(self._executor.shutdown)
            self._executor = None

    async def render(self, inspection_id: int, fmt: ReportFormat) -> RenderedFile:
        """The stored report file; raises ReportError for an unknown or unfinished inspection."""
        found = await self._start(inspection_id, fmt)
        if isinstance(found, RenderedFile):
            return found
        return await asyncio.shield(found)

    async def _start(
        self, inspection_id: int, fmt: ReportFormat, token: str | None = None
    ) -> RenderedFile | asyncio.Task[RenderedFile]:
        """The file if it is rendered, else its rendering (started if need be). A row of a
        request (`token`) takes the model its request read; one without reads it again, unless
        the format's rendering is under way."""
        if token is None:
            running = self._requested.get((inspection_id, fmt))
            if running is not None and not running.done():
                return running
            read = await self._load(inspection_id)
        else:
            read = await self._read(inspection_id, token)
        model = read.model
        key = (inspection_id, fmt, read.content_hash)
        done = self._done.get(key)
        if done is not None and await self.db.files.exists(done.sha256):
            return done  # (a file no message names is removed after a while: storage.unclaimed)
        task = self._running.get(key)
        if task is None:
            task = asyncio.create_task(self._render_and_store(model, fmt, key))
            # Whoever asks next gets a failure; this keeps it from being reported as lost.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._running[key] = task
            self._requested[(inspection_id, fmt)] = task
        return task

    async def _read(self, inspection_id: int, token: str) -> _Read:
        """The model of the request `token`, read once for all its rows and their later tries
        (a row asking while the read runs awaits that read).

        The outbox worker prepares a row only after the transaction that queued it committed,
        so a model read then shows everything the request's rows asked for; a later request
        (a new token) reads again. A failed read is not kept: the next try reads again."""
        key = (inspection_id, token)
        reading = self._reads.get(key)
        if reading is None:
            reading = asyncio.create_task(self._load(inspection_id))
            reading.add_done_callback(lambda t: self._forget_failed(key, t))
            self._reads[key] = reading
            if len(self._reads) > CACHE_SIZE:
                self._reads.popitem(last=False)
        else:
            self._reads.move_to_end(key)
        return await asyncio.shield(reading)

    async def _load(self, inspection_id: int) -> _Read:
        model = await load_report(self.db, inspection_id)
        return _Read(model, model.content_hash())

    def _forget_failed(self, key: tuple[int, str], reading: asyncio.Task[_Read]) -> None:
        failed = reading.cancelled() or reading.exception() is not None
        if failed and self._reads.get(key) is reading:
            del self._reads[key]

    async def render_bytes(self, model: ReportModel, fmt: ReportFormat) -> bytes:
        photos = await load_photos(self.db.files, model) if fmt is not ReportFormat.PNG else {}
        if self._executor is None:
            self._executor = process_pool()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, _render_in_worker, fmt.value, model, photos
        )

    async def render_bulletin(self, model: BulletinModel, fmt: ReportFormat) -> bytes:
        """A 通报 file, drawn in the same worker process as the reports."""
        if self._executor is None:
            self._executor = process_pool()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _bulletin_in_worker, fmt.value, model)

    async def prepare(self, message: OutboxMessage) -> dict[str, Any]:
        """The outbox worker's hook: a row that asks for a report file gets the stored file,
        one with watermark bands the stamped renditions of its photos."""
        payload = message.payload
        stamped = await renditions.prepare(self.db.files, payload)
        if stamped is not None:
            return stamped
        wanted = requested(payload)
        if wanted is None:
            return payload
        try:
            found = await self._start(*wanted, asked(payload))
            if not isinstance(found, RenderedFile):
                wait = READY_WAIT if len(self._running) <= WAIT_WHEN_AT_MOST else 0.0
                finished, _ = await asyncio.wait({found}, timeout=wait)
                if not finished:
                    low, high = RETRY_RANGE
                    raise NotReady(min(high, max(low, len(self._running) * RETRY_PER_QUEUED)))
                found = found.result()
            rendered = found
        except ReportError as exc:
            raise DeliveryError(str(exc), permanent=True) from None
        if message.kind is OutboxKind.SEND_PHOTO:
            return {**payload, "photos": [rendered.sha256]}
        return {**payload, "document": rendered.sha256, "document_name": rendered.filename}

    async def _render_and_store(
        self, model: ReportModel, fmt: ReportFormat, key: tuple[int, ReportFormat, str]
    ) -> RenderedFile:
        try:
            data = await self.render_bytes(model, fmt)
            stored = await self.db.files.put(data)
            name = filename(model, fmt, self.db.now())
            rendered = RenderedFile(stored.sha256, name, fmt.mime, stored.size)
            if len(self._done) >= CACHE_SIZE:
                del self._done[next(iter(self._done))]
            self._done[key] = rendered
            return rendered
        finally:
            del self._running[key]
            if self._requested.get(key[:2]) is asyncio.current_task():
                del self._requested[key[:2]]


async def load_photos(files: EvidenceStore, model: ReportModel) -> dict[str, bytes]:
    """The report's photos by sha256; a missing file is left out (the report says so)."""
    found: dict[str, bytes] = {}
    for item in model.items:
        for photo in (*item.photos, *item.fix_photos):
            if photo.sha256 in found:
                continue
            try:
                found[photo.sha256] = await files.get(photo.sha256)
            except EvidenceMissing:
                log.warning("report %s: photo %s is missing", model.inspection_id, photo.sha256)
    return found
