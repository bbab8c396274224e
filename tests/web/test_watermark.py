"""The verifier's photos in the web chat are the watermarked renditions: the files the page
loads carry the band, and the originals of someone else's photos are not served."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import aiohttp
import pytest

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
    for album, original in zip(albums, (finding, fixed), strict=True):
        (sha,) = album["photos"]
        async with http.get(url + sha, headers=inspector.headers) as response:
            assert response.status == 200
            assert banded(await response.read(), original)
    original_fix = hashlib.sha256(fixed).hexdigest()
    async with http.get(url + original_fix, headers=inspector.headers) as response:
        assert response.status == 404  # only the rendition was shown to the verifier
    assert await web_bot.runtime.db.files.get(original_fix) == fixed
