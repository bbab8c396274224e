"""The web chat's HTTP API against the real server: sign-in on every request, revocation,
idempotent messages, uploads (refused ones too) and who may fetch which file."""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from bot.core.messages import Outgoing
from bot.handlers.web.links import issue_login, revoke_logins
from storage.records import Channel, OutboxKind
from storage.tables import evidence
from tests.core.test_capture_time import photo
from tests.security.rawhttp import row_counts
from tests.web.conftest import WebBot
from tests.web.helpers import ApiClient, png, read_event, wait_until

STATIC = Path(__file__).resolve().parents[2] / "bot" / "static"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def client(web_bot: WebBot, http: aiohttp.ClientSession, name: str) -> ApiClient:
    return ApiClient(http, web_bot.base, web_bot.tokens[name])


async def settle(web_bot: WebBot) -> None:
    await wait_until(web_bot.delivered)


async def evidence_hashes(web_bot: WebBot) -> set[str]:
    async with web_bot.runtime.db.read() as tx:
        rows = await tx.connection.execute(sa.select(evidence.c.sha256))
        return {row[0] for row in rows}


async def open_first_item(web_bot: WebBot, inspector: ApiClient) -> None:
    assert await inspector.text("/inspect") == 200
    await settle(web_bot)
    assert await inspector.press("阳光花园") == 200
    await settle(web_bot)


async def test_page_and_its_files_need_no_token_and_load_nothing_external(
    web_bot: WebBot, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{web_bot.base}/chat") as response:
        assert response.status == 200
        page = await response.text()
        policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "王检查" not in page
    for name in ("chat.js", "chat.css", "icon.svg"):
        async with http.get(f"{web_bot.base}/static/{name}") as response:
            assert response.status == 200
            assert response.headers["X-Content-Type-Options"] == "nosniff"
    async with http.get(f"{web_bot.base}/static/..%2Fapp.py") as response:
        assert response.status == 404
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path
        assert "@import" not in text and "url(http" not in text, path
    assert 'capture="environment"' in page and 'accept="image/*"' in page


async def test_requests_without_a_valid_token_get_nothing(
    web_bot: WebBot, http: aiohttp.ClientSession
) -> None:
    inspector = client(web_bot, http, "王检查")
    await open_first_item(web_bot, inspector)
    assert await inspector.upload(png()) == 200
    await settle(web_bot)
    (photo,) = await evidence_hashes(web_bot)
    wrong = [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer short"},
        {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"},
        {"Authorization": f"Bearer {web_bot.tokens['王检查']}x"},
    ]
    for headers in wrong:
        for method, path in (
            ("GET", "/api/me"),
            ("GET", "/api/events?after=0"),
            ("POST", "/api/send"),
            ("POST", "/api/upload"),
            ("GET", f"/api/files/{photo}"),
        ):
            body = {"id": "x1", "kind": "text", "text": "/inspect"} if path == "/api/send" else None
            async with http.request(method, web_bot.base + path, headers=headers, json=body) as r:
                text = await r.text()
                assert r.status == 401, (headers, path)
            assert r.headers["WWW-Authenticate"] == "Bearer"
            assert "王检查" not in text and "阳光花园" not in text
            assert "已失效" in text


async def test_signed_in_person_gets_their_chat_with_edits_and_a_welcome(
    web_bot: WebBot, http: aiohttp.ClientSession
) -> None:
    inspector = client(web_bot, http, "王检查")
    async with http.get(f"{web_bot.base}/api/me", headers=inspector.headers) as response:
        me = await response.json()
    assert me["name"] == "王检查"
    assert me["max_upload_bytes"] == 1_048_576
    assert [c["command"] for c in me["commands"]] == [
        "inspect",
        "resume",
        "pause",
        "status",
        "tasks",
        "plans",
        "help",
    ]
    manager = client(web_bot, http, "赵经理")
    async with http.get(f"{web_bot.base}/api/me", headers=manager.headers) as response:
        assert [c["command"] for c in (await response.json())["commands"]] == [
            "tasks",
            "stats",
            "overdue",
            "report",
            "bulletin",
            "plans",
            "settings",
            "help",
        ]

    assert await inspector.send({"kind": "command", "command": "start"}, "welcome") == 200
    await settle(web_bot)
    (welcome,) = await inspector.history()
    assert welcome["from"] == "bot" and "欢迎，王检查" in welcome["text"]
    assert await inspector.send({"kind": "command", "command": "start"}, "welcome") == 200
    await settle(web_bot)
    assert len(await inspector.history()) == 1, "the same page message is handled once"

    await open_first_item(web_bot, inspector)
    messages = await inspector.messages()
    assert messages[1] == {**messages[1], "from": "me", "text": "/inspect"}
    item = messages[-1]
    assert "第 1/62 项" in item["text"] and item["buttons"]
    assert await inspector.press("1分") == 200
    await settle(web_bot)
    history = await inspector.history()
    edits = [m for m in history if m["id"] == item["id"]]
    assert len(edits) == 2 and not edits[-1]["buttons"], "the answered item is edited in place"
    assert "第 2/62 项" in (await inspector.messages())[-1]["text"]
    assert (await inspector.messages())[-2]["id"] == item["id"]


async def test_live_stream_then_revocation_closes_it_and_nothing_works(
    web_bot: WebBot, http: aiohttp.ClientSession
) -> None:
    inspector = client(web_bot, http, "王检查")
    person = await web_bot.person("王检查")
    async with http.get(f"{web_bot.base}/api/events?after=0", headers=inspector.headers) as stream:
        assert await read_event(stream) == ("history", {"messages": [], "reset": True})
        assert await inspector.text("/help") == 200
        name, echo = await read_event(stream)
        assert (name, echo["from"], echo["text"]) == ("message", "me", "/help")
        name, answer = await read_event(stream)
        assert name == "message" and "可用命令" in answer["text"]
        async with web_bot.runtime.db.transaction() as tx:
            assert await revoke_logins(tx, person.id) == 1
        with pytest.raises(EOFError):
            await asyncio.wait_for(read_event(stream), timeout=5)
    assert await inspector.text("/help") == 401
    async with http.get(f"{web_bot.base}/api/me", headers=inspector.headers) as response:
        assert response.status == 401

    async with web_bot.runtime.db.transaction() as tx:
        token = await issue_login(tx, person)
    renewed = ApiClient(http, web_bot.base, token)
    texts = [m["text"] for m in await renewed.history()]
    assert texts[0] == "/help" and "可用命令" in texts[1], "a new link continues the same chat"


async def test_a_new_link_replaces_the_old_one(
    web_bot: WebBot, http: aiohttp.ClientSession
) -> None:
    person = await web_bot.person("张三")
    async with web_bot.runtime.db.transaction() as tx:
        token = await issue_login(tx, person)
    assert await ApiClient(http, web_bot.base, token).text("/help") == 200
    assert await client(web_bot, http, "张三").text("/help") == 401


async def test_photo_uploads_go_into_the_evidence_store_and_refusals_say_why(
    web_bot: WebBot, http: aiohttp.ClientSession
) -> None:
    inspector = client(web_bot, http, "王检查")
    await open_first_item(web_bot, inspector)
    photo = png()
    assert await inspector.upload(photo) == 200
    await settle(web_bot)
    (sha,) = await evidence_hashes(web_bot)
    assert web_bot.runtime.db.files.max_bytes == 1_048_576
    assert await web_bot.runtime.db.files.get(sha) == photo
    *_, earlier, mine, saved, again = await inspector.messages()
    assert mine["from"] == "me" and mine["photos"] == [sha]
    assert "照片已附在第 1 项" in saved["text"]
    assert "第 1/62 项" in again["text"] and "已附：1张照片" in again["text"]
    assert again["buttons"] and not earlier["buttons"]  # the item shown again, below the photo

    assert await inspector.upload(b"<svg onload='alert(1)'/>", name="x.png") == 200
    await settle(web_bot)
    text = [m["text"] for m in await inspector.history()]
    assert "只能接收图片作为证据" in text[-1] and "x.png" in text[-1]
    assert "📎 x.png" in text[-2]

    too_big = png() + b"\0" * 1_048_576
    assert await inspector.upload(too_big, name="big.png") == 200
    await settle(web_bot)
    assert "文件太大" in (await inspector.history())[-1]["text"]
    assert await inspector.upload(None, name="huge.jpg", size=30 * 1_048_576) == 200
    await settle(web_bot)
    assert "文件太大（30.0 MB），上限是 1 MB" in (await inspector.history())[-1]["text"]
    headers = {**inspector.headers, "X-Message-Id": "raw1", "Content-Type": "multipart/form-data"}
    body = b"x" * (3 * 1_048_576)
    async with http.post(f"{web_bot.base}/api/upload", data=body, headers=headers) as response:
        assert response.status == 200
        assert (await response.json())["refused"] == "too_large"
    await settle(web_bot)
    assert "文件太大" in (await inspector.history())[-1]["text"]
    assert await evidence_hashes(web_bot) == {sha}, "nothing refused was stored"

    assert await inspector.upload(None, name="none.jpg", size=10) == 400
    headers = {**inspector.headers, "X-Message-Id": "bad id!"}
    async with http.post(f"{web_bot.base}/api/upload", data=b"", headers=headers) as response:
        assert response.status == 400


async def test_an_uploaded_photo_keeps_its_exif_capture_time(
    web_bot: WebBot, http: aiohttp.ClientSession
) -> None:
    inspector = client(web_bot, http, "王检查")
    await open_first_item(web_bot, inspector)
    assert await inspector.upload(photo("2026:11:03 09:41:07"), name="IMG_0001.jpg") == 200
    await settle(web_bot)
    assert await inspector.upload(photo(), name="IMG_0002.jpg") == 200
    await settle(web_bot)
    async with web_bot.runtime.db.read() as tx:
        kept = await tx.evidence.for_item(1, 1)
    assert [e.taken_at for e in kept] == [datetime(2026, 11, 3, 9, 41, 7), None]


async def test_files_are_served_only_to_people_whose_chat_shows_them(
    web_bot: WebBot, http: aiohttp.ClientSession
) -> None:
    inspector, manager = client(web_bot, http, "王检查"), client(web_bot, http, "赵经理")
    await open_first_item(web_bot, inspector)
    assert await inspector.upload(png()) == 200
    await settle(web_bot)
    (photo,) = await evidence_hashes(web_bot)
    report = (await web_bot.runtime.db.files.put(b"PK\x03\x04 fake xlsx")).sha256
    person = await web_bot.person("赵经理")
    message = Outgoing(
        kind=OutboxKind.SEND_DOCUMENT, text="月度通报", document=report, document_name="通报.xlsx"
    )
    async with web_bot.runtime.db.transaction() as tx:
        await tx.outbox.enqueue(
            Channel.WEB, str(person.id), message.kind, message.to_payload(), person_id=person.id
        )
    web_bot.runtime.workers[Channel.WEB].wake()
    await settle(web_bot)

    url = f"{web_bot.base}/api/files/"
    async with http.get(url + photo, headers=inspector.headers) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/png"
        assert response.headers["Content-Disposition"] == "inline"
    async with http.get(url + report, headers=manager.headers) as response:
        assert response.status == 200
        assert await response.read() == b"PK\x03\x04 fake xlsx"
        assert "filename*=UTF-8''%E9%80%9A%E6%8A%A5.xlsx" in response.headers["Content-Disposition"]
    for who, sha in ((manager, photo), (inspector, report), (inspector, "0" * 64)):
        async with http.get(url + sha, headers=who.headers) as response:
            assert response.status == 404
    async with http.get(url + "../../etc/passwd", headers=inspector.headers) as response:
        assert response.status == 404


async def test_malformed_messages_are_refused(web_bot: WebBot, http: aiohttp.ClientSession) -> None:
    inspector = client(web_bot, http, "王检查")
    bad = [
        {"kind": "text", "text": "   "},
        {"kind": "text"},
        {"kind": "button", "payload": "x" * 65},
        {"kind": "button", "payload": ""},
        {"kind": "command", "command": "rm -rf"},
        {"kind": "sticker"},
    ]
    for body in bad:
        assert await inspector.send(body) == 400, body
    assert await inspector.send({"kind": "text", "text": "hi"}, message_id="no spaces") == 400
    async with http.post(
        f"{web_bot.base}/api/send", data=b"{not json", headers=inspector.headers
    ) as response:
        assert response.status == 400
    async with http.get(
        f"{web_bot.base}/api/events?after=-1", headers=inspector.headers
    ) as response:
        assert response.status == 400
    forged = {"kind": "button", "payload": f"L:1:1:1:0:{uuid.uuid4().hex[:4]}"}
    assert await inspector.send(forged) == 200
    await settle(web_bot)
    assert await inspector.history() == [], "a forged button changes nothing and shows nothing"


async def test_a_reconnecting_page_gets_only_what_it_missed(
    web_bot: WebBot, http: aiohttp.ClientSession
) -> None:
    inspector = client(web_bot, http, "王检查")
    for command in ("/help", "/status", "/help"):
        assert await inspector.text(command) == 200
    await settle(web_bot)
    history = await inspector.history()
    assert len(history) == 6
    seen = history[3]["seq"]
    async with http.get(
        f"{web_bot.base}/api/events?after={seen}", headers=inspector.headers
    ) as response:
        name, data = await read_event(response)
    assert name == "history" and data["reset"] is False
    assert data["messages"] == history[4:]

    assert web_bot.runtime.web is not None
    web_bot.runtime.web.history_limit = 2
    async with http.get(f"{web_bot.base}/api/events?after=1", headers=inspector.headers) as r:
        name, data = await read_event(r)
    assert data["reset"] is True, "too much missed: the page starts over with the newest"
    assert data["messages"] == history[-2:]


# PostgreSQL's jsonb refuses a lone surrogate outright: the legacy rows this checks exist only
# in SQLite databases.
@pytest.mark.database_neutral
async def test_ill_formed_text_is_refused_and_a_stored_one_cannot_break_the_stream(
    web_bot: WebBot, http: aiohttp.ClientSession
) -> None:
    inspector = client(web_bot, http, "王检查")
    assert await inspector.text("/help") == 200
    await settle(web_bot)
    shown = await inspector.history()
    db = web_bot.runtime.db
    before = await row_counts(db)
    headers = {**inspector.headers, "Content-Type": "application/json"}
    for raw in (
        b'{"id": "m1", "kind": "text", "text": "hello \\ud800 world"}',
        b'{"id": "m2", "kind": "text", "text": "\\udfff"}',
        b'{"id": "m3", "kind": "text", "text": "nul \\u0000 inside"}',
        b'{"id": "m4", "kind": "button", "payload": "L:1:\\ud800"}',
    ):
        async with http.post(f"{web_bot.base}/api/send", data=raw, headers=headers) as response:
            assert response.status == 400, raw
            refusal = await response.json()
        assert refusal["error"] == "bad_text"
        assert "无法识别的字符" in refusal["message"]
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("size", str(len(png())))
    form.add_field("name", "nul\x00.png")
    form.add_field("file", png(), filename="photo.png", content_type="image/png")
    async with http.post(
        f"{web_bot.base}/api/upload", data=form, headers={**inspector.headers, "X-Message-Id": "u1"}
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "bad_text"
    assert await row_counts(db) == before
    assert await inspector.history() == shown

    # A row stored by an older version with a lone surrogate in it: the open stream and every
    # later one still carry the whole chat.
    person = await web_bot.person("王检查")
    chat_id = str(person.id)
    async with http.get(
        f"{web_bot.base}/api/events?after={shown[-1]['seq']}", headers=inspector.headers
    ) as stream:
        assert (await read_event(stream))[0] == "history"
        legacy = Outgoing(kind=OutboxKind.SEND, text="hello \ud800 world")
        async with db.transaction() as tx:
            await tx.outbox.enqueue(Channel.WEB, chat_id, legacy.kind, legacy.to_payload())
        web_bot.runtime.workers[Channel.WEB].wake()
        name, live = await read_event(stream)
    assert name == "message" and live["text"] == "hello \ud800 world"
    # … nor the file a row like it names.
    report = (await db.files.put(b"PK\x03\x04 legacy")).sha256
    legacy = Outgoing(
        kind=OutboxKind.SEND_DOCUMENT, document=report, document_name="通报\udcff.xlsx"
    )
    async with db.transaction() as tx:
        await tx.outbox.enqueue(Channel.WEB, chat_id, legacy.kind, legacy.to_payload())
    web_bot.runtime.workers[Channel.WEB].wake()
    await settle(web_bot)
    async with http.get(f"{web_bot.base}/api/files/{report}", headers=inspector.headers) as r:
        assert r.status == 200
        assert "filename*=UTF-8''%E9%80%9A%E6%8A%A5%3F.xlsx" in r.headers["Content-Disposition"]
    assert await inspector.text("/help") == 200
    await settle(web_bot)
    history = await inspector.history()
    assert history[: len(shown)] == shown
    assert [m["text"] for m in history[len(shown) :]][:3] == ["hello \ud800 world", "", "/help"]


async def test_malformed_input_gets_a_4xx_never_a_500(
    web_bot: WebBot, http: aiohttp.ClientSession
) -> None:
    inspector = client(web_bot, http, "王检查")
    await settle(web_bot)  # what signing in started has finished
    before = await row_counts(web_bot.runtime.db)
    deep = b"[" * 8000 + b"]" * 8000  # 16 KB, deeper than the JSON parser can follow
    for body in (deep, b'{"id": "m1", "kind": "text", "text": ' + deep[:-2] + b"}"):
        async with http.post(
            f"{web_bot.base}/api/send", data=body, headers=inspector.headers
        ) as response:
            assert response.status == 400
    for after in ("²", "١٢", "𝟗"):  # digits to str.isdigit, not to int()
        async with http.get(
            f"{web_bot.base}/api/events", params={"after": after}, headers=inspector.headers
        ) as response:
            assert response.status == 400, after
    assert await row_counts(web_bot.runtime.db) == before
