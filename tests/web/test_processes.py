"""Two bot processes on one PostgreSQL: a page open on one of them shows, live, what the
other delivered (LISTEN/NOTIFY on the web relay, the outbox read on each nudge)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.core.messages import Outgoing
from storage.records import Channel, OutboxKind
from tests.scratch_db import PG_SKIP_REASON, PgServer
from tests.web.conftest import running_bot
from tests.web.helpers import ApiClient, read_event


@pytest.fixture
async def pg_url(pg_server: PgServer | None) -> AsyncIterator[str]:
    if pg_server is None:
        pytest.skip(PG_SKIP_REASON)
    url = await pg_server.create(migrated=True)
    yield url
    await pg_server.drop(url)


async def test_a_message_sent_by_one_process_reaches_a_page_on_the_other(
    tmp_path: Path, pg_url: str
) -> None:
    async with (
        running_bot(tmp_path / "a", pg_url) as a,
        running_bot(tmp_path / "b", pg_url, tokens=a.tokens) as b,
        aiohttp.ClientSession() as http,
    ):
        # Only B delivers web messages: the page is open on A.
        await a.runtime.workers[Channel.WEB].stop()
        page = ApiClient(http, a.base, a.tokens["王检查"])
        async with http.get(f"{a.base}/api/events?after=0", headers=page.headers) as stream:
            name, history = await read_event(stream)
            assert name == "history" and history["messages"] == []
            for text in ("第一条", "第二条"):
                started = time.monotonic()
                await b.send_to("王检查", Outgoing(kind=OutboxKind.SEND, text=text))
                name, shown = await asyncio.wait_for(read_event(stream), timeout=5)
                assert (name, shown["text"]) == ("message", text)
                assert time.monotonic() - started < 1.0, "pushed within a second"
        assert await b.delivered()
        # A page that connects later gets the same messages from the outbox.
        assert [m["text"] for m in await page.history()] == ["第一条", "第二条"]
