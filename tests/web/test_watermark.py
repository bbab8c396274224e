"""The verifier's photos in the web chat are the watermarked renditions: the files the page
loads carry the band, and the originals of someone else's photos are not served."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
import sqlalchemy as sa

from bot.core.messages import Outgoing, Stamped, album
from storage.records import Channel, OutboxKind
from storage.tables import outbox
from tests.bands import banded
from tests.reports.data import jpeg
from tests.web.conftest import WebBot
from tests.web.helpers import ApiClient, wait_until


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_the_verifier_sees_watermarked_photos(
    web_bot: WebBot, http: aiohttp.ClientSession
) -> None:
    inspector = ApiClient(http, web_bot.base, web_bot.tokens["王检查"])
    responsible = ApiClient(http, web_bot.base, web_bot.tokens["李四"])
    finding, fixed = jpeg(1, (640, 480)), jpeg(2, (640, 480))

    async def step(status: int) -> None:
        assert status == 200
        await wait_until(web_bot.delivered)

    await step(await inspector.text("/inspect"))
    await step(await inspector.press("阳光花园"))
    await step(await inspector.upload(finding, name="finding.jpg"))
    await step(await inspector.press("0分"))
    await step(await inspector.press("李四"))
    await step(await inspector.press("确认创建"))
    await step(await responsible.press("已整改"))
    await step(await responsible.upload(fixed, name="fixed.jpg"))
    await step(await responsible.press("提交复查"))

    messages = await inspector.messages()
    review = next(i for i, m in enumerate(messages) if "整改待复查" in m["text"])
    albums = [m for m in messages[:review] if m["kind"] == "photo"][-2:]
    assert [m["text"] for m in albums] == ["整改前（1 张）", "整改后（1 张）"]
    url = f"{web_bot.base}/api/files/"
    for shown, original in zip(albums, (finding, fixed), strict=True):
        (sha,) = shown["photos"]
        async with http.get(url + sha, headers=inspector.headers) as response:
            assert response.status == 200
            assert banded(await response.read(), original)
    original_fix = hashlib.sha256(fixed).hexdigest()
    async with http.get(url + original_fix, headers=inspector.headers) as response:
        assert response.status == 404  # only the rendition was shown to the verifier
    assert await web_bot.runtime.db.files.get(original_fix) == fixed


async def test_a_photo_row_being_watermarked_shows_nothing_of_the_original(
    web_bot: WebBot, http: aiohttp.ClientSession
) -> None:
    """While the worker makes the renditions (the row claimed, its photos still the originals
    with their bands), a page loading the chat stops before that row, and the originals are
    not served; once sent, the row shows the rendition."""
    inspector = ApiClient(http, web_bot.base, web_bot.tokens["王检查"])
    original = jpeg(3, (640, 480))
    stored = await web_bot.runtime.db.files.put(original)
    person = await web_bot.person("王检查")
    await web_bot.send_to("王检查", Outgoing(kind=OutboxKind.SEND, text="之前的消息"))
    await wait_until(web_bot.delivered)
    stamped = album("整改后（1 张）", [Stamped(stored.sha256, "阳光花园 · 第 1 项 · 张三")])
    async with web_bot.runtime.db.transaction() as tx:
        queued = await tx.outbox.enqueue(
            Channel.WEB, str(person.id), stamped.kind, stamped.to_payload(), person_id=person.id
        )
        row = queued.id
        await tx.connection.execute(
            sa.update(outbox)
            .where(outbox.c.id == row)
            .values(claimed_by="another-worker", claim_expires_at=datetime(2999, 1, 1, tzinfo=UTC))
        )
    shown = await inspector.messages()
    assert shown[-1]["text"] == "之前的消息"
    url = f"{web_bot.base}/api/files/{stored.sha256}"
    async with http.get(url, headers=inspector.headers) as response:
        assert response.status == 404

    async with web_bot.runtime.db.transaction() as tx:
        await tx.connection.execute(
            sa.update(outbox)
            .where(outbox.c.id == row)
            .values(claimed_by=None, claim_expires_at=None)
        )
    web_bot.runtime.workers[Channel.WEB].wake()
    await wait_until(web_bot.delivered)
    last = (await inspector.messages())[-1]
    assert last["text"] == "整改后（1 张）"
    (rendition,) = last["photos"]
    async with http.get(f"{web_bot.base}/api/files/{rendition}", headers=inspector.headers) as r:
        assert r.status == 200
        assert banded(await r.read(), original)
    async with http.get(url, headers=inspector.headers) as response:
        assert response.status == 404
