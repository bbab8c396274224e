"""AiohttpRequest, our python-telegram-bot transport, under a real ``telegram.Bot``: failures
map to PTB's errors (network, timeout, Bot API statuses), uploads arrive intact, and a shut-down
transport refuses calls instead of hanging."""

from __future__ import annotations

import asyncio
import datetime as dtm
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from telegram import Bot, Message
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.handlers.telegram_http import AiohttpRequest
from tests.fakes.telegram_api import FakeTelegramAPI

pytestmark = pytest.mark.database_neutral

TOKEN = "123456:TRANSPORTtestTOKENabcdefghijklmnopq"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "品检 Test", "username": "pj_test_bot"}
REPORT = bytes(range(256)) * 40 + b"PK\x03\x04\r\n\x00end"
Method = Callable[[web.Request], Awaitable[web.Response]]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@asynccontextmanager
async def api_server(methods: dict[str, Method]) -> AsyncIterator[str]:
    """A tiny Bot API on 127.0.0.1 answering getMe plus ``methods``; yields its base_url."""

    async def handle(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "getMe":
            return web.json_response({"ok": True, "result": BOT_USER})
        return await methods[method](request)

    app = web.Application()
    app.router.add_route("*", "/bot{token}/{method}", handle)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/bot"
    finally:
        await runner.cleanup()


def make_bot(base_url: str, token: str = TOKEN, read_timeout: float = 5.0) -> Bot:
    return Bot(
        token,
        base_url=base_url,
        request=AiohttpRequest(read_timeout=read_timeout),
        get_updates_request=AiohttpRequest(connection_pool_size=1),
    )


@asynccontextmanager
async def running_bot(
    base_url: str, token: str = TOKEN, read_timeout: float = 5.0
) -> AsyncIterator[Bot]:
    bot = make_bot(base_url, token, read_timeout)
    await bot.initialize()
    try:
        yield bot
    finally:
        await bot.shutdown()


def error_reply(status: int, body: dict[str, object]) -> Method:
    async def reply(request: web.Request) -> web.Response:
        return web.json_response(body, status=status)

    return reply


async def test_unreachable_server_is_network_error_without_token() -> None:
    bot = make_bot(f"http://127.0.0.1:{free_port()}/bot")
    try:
        async with asyncio.timeout(10):
            with pytest.raises(NetworkError) as caught:
                await bot.initialize()  # getMe through AiohttpRequest
    finally:
        await bot.shutdown()
    assert not isinstance(caught.value, TimedOut)
    assert caught.value.message.startswith("aiohttp.ClientConnectorError")
    assert TOKEN not in str(caught.value)
    assert TOKEN.split(":", 1)[1] not in caught.value.message


async def test_slow_server_is_timed_out() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({"ok": True, "result": True})

    async with api_server({"sendMessage": slow}) as url, running_bot(url, read_timeout=0.2) as bot:
        async with asyncio.timeout(5):
            with pytest.raises(TimedOut):
                await bot.send_message(1001, "hi")


async def send_report(caption: str | None = None) -> tuple[FakeTelegramAPI, Message]:
    async with FakeTelegramAPI() as fake, running_bot(fake.base_url, fake.token) as bot:
        user = fake.user(1001, "王检查")
        async with asyncio.timeout(10):
            sent = await bot.send_document(
                user.id, document=REPORT, filename="报告.xlsx", caption=caption, parse_mode="HTML"
            )
    return fake, sent


async def test_upload_keeps_bytes_and_chinese_html_caption() -> None:
    caption = '<b>整改报告</b> 第1期 &amp; <a href="https://example.com/?a=1&amp;b=2">链接</a>'
    fake, sent = await send_report(caption)
    (call,) = fake.calls("sendDocument")
    assert call.ok, call.error
    assert call.files["document"].data == REPORT
    assert call.params["caption"] == caption
    assert call.params["parse_mode"] == "HTML"
    stored = fake.last_message(1001)
    assert stored is not None and stored.document is not None
    assert stored.source == caption
    assert stored.caption == sent.caption == "整改报告 第1期 & 链接"


async def test_upload_keeps_chinese_filename() -> None:
    fake, sent = await send_report()
    (call,) = fake.calls("sendDocument")
    assert call.files["document"].filename == "报告.xlsx"
    assert sent.document is not None and sent.document.file_name == "报告.xlsx"


async def test_bad_request_and_flood_keep_ptb_error_mapping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # retry_after as timedelta, no deprecation warning
    methods = {
        "sendMessage": error_reply(
            400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
        ),
        "editMessageText": error_reply(
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 7",
                "parameters": {"retry_after": 7},
            },
        ),
    }
    async with api_server(methods) as url, running_bot(url) as bot, asyncio.timeout(10):
        with pytest.raises(BadRequest) as bad:
            await bot.send_message(42, "hi")
        # PTB drops the "Bad Request: " prefix and capitalizes what is left.
        assert bad.value.message == "Chat not found"
        with pytest.raises(RetryAfter) as flood:
            await bot.edit_message_text("hi", chat_id=42, message_id=1)
    assert flood.value.retry_after == dtm.timedelta(seconds=7)


async def test_call_after_shutdown_raises_instead_of_hanging() -> None:
    async with FakeTelegramAPI() as fake:
        bot = make_bot(fake.base_url, fake.token)
        await bot.initialize()
        await bot.shutdown()
        async with asyncio.timeout(5):
            with pytest.raises(NetworkError) as caught:
                await bot.send_message(1001, "hi")
        assert isinstance(caught.value.__cause__, RuntimeError)
        assert "This AiohttpRequest is not initialized!" in caught.value.message
        assert fake.calls("sendMessage") == []
