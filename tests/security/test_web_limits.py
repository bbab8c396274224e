"""What one link holder can make the web chat hold: uploads (kept only when a flow attached
them, received on disk not in memory, limited per person), images that declare too many
pixels, event streams per person, and failed sign-ins per address. The real bot on loopback,
spoken to over HTTP as the page does."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from playwright.async_api import Browser, FilePayload, Request, expect

from bot.core.messages import Outgoing
from bot.handlers.web.channel import SIGN_IN_FAILURES
from bot.handlers.web.hub import MAX_STREAMS
from bot.handlers.web.limits import MAX_KEYS, Used, Window
from bot.scheduler import UNCLAIMED_GRACE_MINUTES
from storage.records import Channel, OutboxKind
from storage.tables import evidence, outbox
from tests.security.bombs import bomb_png
from tests.web.browser import ChatPage
from tests.web.conftest import WebBot, browser, running_bot  # noqa: F401 (browser: the fixture)
from tests.web.helpers import ApiClient, png, read_event, wait_until


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[WebBot]:
    async with running_bot(tmp_path) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def client(bot: WebBot, http: aiohttp.ClientSession, name: str) -> ApiClient:
    return ApiClient(http, bot.base, bot.tokens[name])


async def settle(bot: WebBot) -> None:
    await wait_until(bot.delivered)


async def stored(bot: WebBot) -> set[str]:
    return {sha async for sha in bot.runtime.db.files.hashes()}


async def rows(bot: WebBot, table: sa.Table) -> int:
    async with bot.runtime.db.read() as tx:
        return int(await tx.connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def upload(
    who: ApiClient, data: bytes, name: str = "photo.png"
) -> tuple[int, dict[str, Any]]:
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("size", str(len(data)))
    form.add_field("name", name)
    form.add_field("file", data, filename=name, content_type="image/png")
    headers = {**who.headers, "X-Message-Id": uuid.uuid4().hex}
    async with who.http.post(f"{who.base}/api/upload", data=form, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def file_status(who: ApiClient, sha256: str) -> int:
    async with who.http.get(f"{who.base}/api/files/{sha256}", headers=who.headers) as response:
        await response.read()
        return response.status


async def open_first_item(bot: WebBot, inspector: ApiClient) -> None:
    assert await inspector.text("/inspect") == 200
    await settle(bot)
    assert await inspector.press("阳光花园") == 200
    await settle(bot)


async def test_an_upload_no_flow_attached_is_removed_after_the_grace_period(
    bot: WebBot, http: aiohttp.ClientSession
) -> None:
    inspector, zhang, manager = (client(bot, http, n) for n in ("王检查", "张三", "赵经理"))
    scheduler = bot.runtime.scheduler
    assert scheduler is not None and scheduler.unclaimed is not None
    assert scheduler.scheduler.get_job("unclaimed-files") is not None, "a periodic job runs it"
    await open_first_item(bot, inspector)
    kept, refused = png(tint=1), png(tint=2)
    assert (await upload(inspector, kept))[0] == 200
    assert (await upload(zhang, refused))[0] == 200  # 张三 has nothing open: "照片未保存"
    await settle(bot)
    assert "照片未保存" in (await zhang.history())[-1]["text"]
    async with bot.runtime.db.read() as tx:
        (kept_sha,) = await tx.connection.scalars(sa.select(evidence.c.sha256))
    (refused_sha,) = await stored(bot) - {kept_sha}
    assert await file_status(zhang, refused_sha) == 200, "the uploader sees their own photo"
    for other in (inspector, manager):
        assert await file_status(other, refused_sha) == 404, "nobody else ever gets it"
    # A file the bot itself sent (a rendered report) is claimed by its message.
    report = (await bot.runtime.db.files.put(b"PK\x03\x04 a rendered report")).sha256
    person = await bot.person("赵经理")
    message = Outgoing(kind=OutboxKind.SEND_DOCUMENT, document=report, document_name="通报.xlsx")
    async with bot.runtime.db.transaction() as tx:
        await tx.outbox.enqueue(
            Channel.WEB, str(person.id), message.kind, message.to_payload(), person_id=person.id
        )
    outbox_rows, evidence_rows = await rows(bot, outbox), await rows(bot, evidence)

    sweeper = scheduler.unclaimed
    assert await sweeper.sweep() == 0, "within the grace period nothing goes"
    assert await stored(bot) == {kept_sha, refused_sha, report}
    sweeper.clock = lambda: time.time() + UNCLAIMED_GRACE_MINUTES * 60 + 1
    assert await sweeper.sweep() == 1
    assert await stored(bot) == {kept_sha, report}
    assert await file_status(zhang, refused_sha) == 404
    assert await file_status(inspector, kept_sha) == 200
    assert (await rows(bot, outbox), await rows(bot, evidence)) == (outbox_rows, evidence_rows)
    mine = [m for m in await zhang.history() if m.get("photos")]
    assert mine and mine[-1]["photos"] == [refused_sha], "the person's own message stays"

    # The same photo sent again later is stored afresh (with a grace period of its own).
    assert (await upload(zhang, refused))[0] == 200
    await settle(bot)
    assert refused_sha in await stored(bot)
    assert await file_status(zhang, refused_sha) == 200


async def test_uploads_are_received_into_a_file_and_cut_off_at_the_limit(
    bot: WebBot, http: aiohttp.ClientSession
) -> None:
    inspector = client(bot, http, "王检查")
    await open_first_item(bot, inspector)
    incoming = bot.settings.data_dir / "incoming"
    photo = png() + secrets.token_bytes(600_000)  # (after the PNG's end: still a PNG)
    boundary = "pinjian-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="size"\r\n\r\n{len(photo)}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    half = len(photo) // 2
    second_half = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield head + photo[:half]
        await second_half.wait()
        yield photo[half:] + tail

    headers = {
        **inspector.headers,
        "X-Message-Id": "stream1",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    sending = asyncio.create_task(http.post(f"{bot.base}/api/upload", data=body(), headers=headers))

    async def half_on_disk() -> bool:
        files = list(incoming.iterdir()) if incoming.is_dir() else []
        return any(f.stat().st_size >= half // 2 for f in files)

    await wait_until(half_on_disk)
    second_half.set()
    response = await sending
    assert response.status == 200 and (await response.json())["refused"] is None
    response.release()
    await settle(bot)
    assert await rows(bot, evidence) == 1
    async with bot.runtime.db.read() as tx:
        (sha,) = await tx.connection.scalars(sa.select(evidence.c.sha256))
    assert await bot.runtime.db.files.get(sha) == photo
    assert list(incoming.iterdir()) == [], "the received file goes when the request ends"

    # Streamed without a declared length: cut off at the limit, nothing kept.
    async def endless() -> AsyncIterator[bytes]:
        yield head + png()
        for _ in range(40):
            yield b"\0" * 64 * 1024

    headers["X-Message-Id"] = "stream2"
    before = await stored(bot)
    async with http.post(f"{bot.base}/api/upload", data=endless(), headers=headers) as response:
        assert response.status == 200
        assert (await response.json())["refused"] == "too_large"
    assert await stored(bot) == before
    assert list(incoming.iterdir()) == []


async def test_a_file_is_sent_as_it_is_read_never_held_whole(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """GET /api/files of a 19 MB document: the bot (client and server in this process, traced
    by tracemalloc) holds a few chunks of it at a time, not the whole file. HEAD has no body."""
    size = 19 * 1024 * 1024
    async with running_bot(tmp_path, max_upload_mb=20) as bot:
        manager = client(bot, http, "赵经理")
        report = (await bot.runtime.db.files.put(secrets.token_bytes(size))).sha256
        person = await bot.person("赵经理")
        message = Outgoing(
            kind=OutboxKind.SEND_DOCUMENT, document=report, document_name="通报.xlsx"
        )
        async with bot.runtime.db.transaction() as tx:
            await tx.outbox.enqueue(
                Channel.WEB, str(person.id), message.kind, message.to_payload(), person_id=person.id
            )
        bot.runtime.workers[Channel.WEB].wake()
        await settle(bot)
        digest, received = hashlib.sha256(), 0
        tracemalloc.start()
        try:
            url = f"{bot.base}/api/files/{report}"
            async with http.get(url, headers=manager.headers) as response:
                assert response.status == 200
                async for chunk in response.content.iter_chunked(64 * 1024):
                    digest.update(chunk)
                    received += len(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        async with http.head(url, headers=manager.headers) as response:
            assert (response.status, await response.read()) == (200, b"")
        assert await file_status(manager, report) == 200, "the connection is still good"
    assert (digest.hexdigest(), received) == (report, size)
    assert peak < 6 * 1024 * 1024, f"{peak / 2**20:.1f} MB held at once"


async def test_an_image_declaring_too_many_pixels_is_refused_and_not_stored(
    bot: WebBot, http: aiohttp.ClientSession
) -> None:
    inspector = client(bot, http, "王检查")
    await open_first_item(bot, inspector)
    bomb = bomb_png()
    assert len(bomb) < 30_000
    status, answer = await upload(inspector, bomb, "bomb.png")
    assert (status, answer["refused"]) == (200, "too_many_pixels")
    await settle(bot)
    assert "图片像素过多（超过 6400 万像素），未保存" in (await inspector.history())[-1]["text"]
    assert await stored(bot) == set()
    assert await rows(bot, evidence) == 0


async def test_uploads_per_person_are_limited_in_files_and_bytes(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    limits = {"upload_window_files": 3, "upload_window_mb": 1, "upload_window_minutes": 10}
    async with running_bot(tmp_path, **limits) as bot:
        inspector, zhang = client(bot, http, "王检查"), client(bot, http, "张三")
        await open_first_item(bot, inspector)
        for tint in range(3):
            assert (await upload(inspector, png(tint=tint)))[0] == 200
        await settle(bot)
        before = await stored(bot)
        status, answer = await upload(inspector, png(tint=9))
        assert status == 429
        assert answer["message"] == (
            "您上传得太频繁了：每 10 分钟最多 3 个文件、共 1 MB。"
            "这个文件未保存，请约 10 分钟后再发。"
        )
        assert await stored(bot) == before
        # Bytes count too: two files of 600 KB use up the megabyte.
        big = png() + b"\0" * 600_000
        assert (await upload(zhang, big))[0] == 200
        assert (await upload(zhang, big + b"1"))[0] == 200
        assert (await upload(zhang, png()))[0] == 429
        # Counted when they start: many at once are refused as well.
        manager = client(bot, http, "赵经理")
        answers = await asyncio.gather(*(upload(manager, png(tint=t)) for t in range(6)))
        assert sorted(status for status, _ in answers) == [200] * 3 + [429] * 3
        assert await client(bot, http, "李四").text("/help") == 200, "others are not affected"


async def test_the_page_shows_why_an_upload_over_the_limit_was_refused(
    tmp_path: Path,
    browser: Browser,  # noqa: F811 (the fixture)
) -> None:
    async with running_bot(tmp_path, upload_window_files=1) as bot:
        inspector = await ChatPage.open(browser, bot, "王检查")
        await inspector.say("/inspect")
        await inspector.tap("阳光花园")
        page = inspector.page
        gallery = page.get_by_role("button", name="从相册或文件选择照片")
        await page.get_by_role("button", name="命令菜单").click()
        await inspector.choose_file(
            gallery, FilePayload(name="1.png", mimeType="image/png", buffer=png())
        )
        await page.get_by_role("button", name="命令菜单").click()
        async with page.expect_file_chooser() as chooser:
            await gallery.click()
        async with page.expect_response(lambda r: r.url.endswith("/api/upload")) as answer:
            await (await chooser.value).set_files(
                files=FilePayload(name="2.png", mimeType="image/png", buffer=png(tint=2))
            )
        assert (await answer.value).status == 429
        await expect(page.locator("#toast")).to_contain_text(
            "您上传得太频繁了：每 10 分钟最多 1 个文件、共 300 MB。这个文件未保存"
        )
        assert await rows(bot, evidence) == 1


async def test_event_streams_per_person_are_capped_and_the_oldest_is_closed(
    bot: WebBot, http: aiohttp.ClientSession
) -> None:
    inspector, manager = client(bot, http, "王检查"), client(bot, http, "赵经理")
    url = f"{bot.base}/api/events?after=0"
    streams = []
    for _ in range(MAX_STREAMS + 1):
        stream = await http.get(url, headers=inspector.headers)
        assert (await read_event(stream))[0] == "history"
        streams.append(stream)
    try:
        closed = await asyncio.wait_for(read_event(streams[0]), timeout=5)
        assert closed == ("closed", {"reason": "replaced"}), "the page waits before reconnecting"
        with pytest.raises(EOFError):
            await asyncio.wait_for(read_event(streams[0]), timeout=5)
        assert await inspector.text("/help") == 200
        for stream in streams[1:]:
            name, echo = await asyncio.wait_for(read_event(stream), timeout=5)
            assert (name, echo["text"]) == ("message", "/help"), "the newest five stay open"
        started = time.monotonic()
        assert await manager.text("/help") == 200
        await settle(bot)
        assert time.monotonic() - started < 2
    finally:
        for stream in streams:
            stream.close()


async def test_idle_event_streams_hold_no_database_connection(
    bot: WebBot, http: aiohttp.ClientSession
) -> None:
    """Every demo person with the most streams they may keep open, past a heartbeat: no more
    connections of the pool are checked out than before the streams were opened,
    and anyone's message is answered at once."""
    pool: Any = bot.runtime.db.engine.pool
    for _ in range(100):  # the scheduler's start-up runs (retention, sweeps) let go first
        if pool.checkedout() == 0:
            break
        await asyncio.sleep(0.1)
    before = pool.checkedout()
    streams = []
    try:
        for name in bot.tokens:
            who = client(bot, http, name)
            for _ in range(MAX_STREAMS):
                stream = await http.get(f"{bot.base}/api/events?after=0", headers=who.headers)
                assert (await read_event(stream))[0] == "history"
                streams.append(stream)
        assert bot.runtime.web is not None
        await asyncio.sleep(bot.runtime.web.heartbeat_seconds * 2)
        assert pool.checkedout() <= before, f"{len(streams)} idle streams"
        started = time.monotonic()
        assert await client(bot, http, "赵经理").text("/help") == 200
        await settle(bot)
        assert time.monotonic() - started < 2
    finally:
        for stream in streams:
            stream.close()


async def test_a_page_whose_stream_was_replaced_waits_until_it_is_looked_at(
    bot: WebBot,
    browser: Browser,  # noqa: F811 (the fixture)
) -> None:
    first = await ChatPage.open(browser, bot, "王检查")
    streams: list[str] = []

    def count(request: Request) -> None:
        if "/api/events" in request.url:
            streams.append(request.url)

    first.page.on("request", count)
    others = []
    for _ in range(MAX_STREAMS):
        page = await (await browser.new_context()).new_page()
        page.on("request", count)
        await page.goto(bot.link("王检查"))
        await expect(page.locator("#status")).to_have_text("已连接")
        others.append(page)
    await expect(first.page.locator("#status")).to_have_text("连接中断，正在重连…")
    opened = len(streams)
    await asyncio.sleep(4)
    assert len(streams) == opened, "the pages do not take turns closing each other"
    for page in others:
        await expect(page.locator("#status")).to_have_text("已连接")
    await first.page.evaluate("window.dispatchEvent(new Event('focus'))")  # looked at again
    await expect(first.page.locator("#status")).to_have_text("已连接")
    await expect(others[0].locator("#status")).to_have_text("连接中断，正在重连…")
    first.check_clean()


async def test_failed_sign_ins_from_one_address_are_refused_past_a_threshold(
    bot: WebBot, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.handlers.web.channel")
    inspector = client(bot, http, "王检查")
    assert await inspector.text("/help") == 200  # signed in before the flood
    tried = [secrets.token_urlsafe(32) for _ in range(SIGN_IN_FAILURES)]
    for token in tried:
        async with http.get(f"{bot.base}/api/me", headers=bearer(token)) as response:
            assert response.status == 401
    async with http.get(f"{bot.base}/api/me", headers=bearer(tried[0])) as response:
        assert response.status == 429
        assert int(response.headers["Retry-After"]) > 0
        answer = await response.json()
    assert answer["message"] == (
        "登录尝试过于频繁，请稍后再试。如果链接已失效，请联系管理员获取新的专属链接。"
    )
    async with http.get(f"{bot.base}/api/me", headers=bearer(bot.tokens["张三"])) as response:
        assert response.status == 429, "no new sign-in from the address for a while"
    assert await inspector.text("/help") == 200, "who signed in here before goes on"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "127.0.0.1" in logged and "refusing it for a while" in logged
    for token in [*tried, *bot.tokens.values()]:
        assert token not in logged


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_window_forgets_what_aged_out_and_keeps_at_most_max_keys() -> None:
    now = [0.0]
    window = Window(60, clock=lambda: now[0])
    assert window.add("a", 5) == Used(1, 5, 60.0)
    now[0] = 30
    assert window.add("a", 1) == Used(2, 6, 30.0)
    now[0] = 61
    assert window.used("a") == Used(1, 1, 29.0)
    now[0] = 100
    assert window.used("a") == Used(0, 0, 0.0)
    for address in range(MAX_KEYS + 5):
        window.add(address)
    assert window.used(MAX_KEYS + 4).count == 1, "the newest key is kept"
    assert window.used(0).count == 0, "the least recently used went"
    assert len(window._entries) <= MAX_KEYS
