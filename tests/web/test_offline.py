"""The web chat without a connection (issue 25): the page is an installable app whose service
worker keeps its files; taps, notes and photos made offline queue on the device (IndexedDB),
show as 待发送 with a count, survive a reload, and reach the server once and in order when the
connection is back; an item answered elsewhere meanwhile is resolved in the server's order and
the person is told. Screenshots go to test-artifacts/web/ (offline-*.png)."""

from __future__ import annotations

import hashlib
import json

import aiohttp
import pytest
from playwright.async_api import Browser, FilePayload, Response, expect

from bot.handlers.web.transcript import transcript
from storage.records import InspectionStatus
from tests.web.browser import PHONE, ChatPage
from tests.web.conftest import WebBot
from tests.web.helpers import ApiClient, png, wait_until

pytestmark = pytest.mark.database_neutral

ITEMS = 62
LOST = 7  # answered 0分 offline: its rectification task is set up once the server has it
PHOTO_A = png(tint=40)
PHOTO_B = png(tint=170)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def open_with_worker(browser: Browser, bot: WebBot) -> ChatPage:
    """The inspector's page, once its service worker controls it (its files are kept)."""
    chat = await ChatPage.open(browser, bot, "王检查")
    await chat.page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    return chat


def check_clean(chat: ChatPage) -> None:
    """No page errors. The browser's own log line for a request it refused while offline is
    not one: navigator.onLine is only a hint (it may say online with no connection, as in a
    basement on a weak Wi-Fi), so the page does try, and then counts itself offline."""
    offline = "Failed to load resource: net::ERR_INTERNET_DISCONNECTED"
    assert [problem for problem in chat.problems if offline not in problem] == []


async def start_inspection(chat: ChatPage) -> None:
    """/inspect at 阳光花园, item 1 answered online; the page then holds the standard."""
    await chat.say("/inspect")
    await chat.tap("阳光花园")
    await expect(chat.bot_messages().last).to_contain_text(f"第 1/{ITEMS} 项")

    def standard(response: Response) -> bool:
        return response.url.endswith("/api/inspections")

    async with chat.page.expect_response(standard):
        await chat.tap("1分")
    await expect(chat.bot_messages().last).to_contain_text(f"第 2/{ITEMS} 项")


async def offline_tap(chat: ChatPage, label: str) -> None:
    """Tap `label` on the item the page shows by itself (offline)."""
    card = chat.page.locator("#log article.local.card").last
    await card.locator(".key", has_text=label).first.click()


async def offline_photo(chat: ChatPage, opener: str, file: FilePayload) -> None:
    async with chat.page.expect_file_chooser() as chooser_info:
        await chat.page.locator(opener).last.click()
    await (await chooser_info.value).set_files(files=file)


async def status(chat: ChatPage) -> str:
    text: str = await chat.page.locator("#status").inner_text()
    return text


async def inspection_id(bot: WebBot) -> int:
    person = await bot.person("王检查")
    async with bot.runtime.db.read() as tx:
        (inspection,) = await tx.inspections.open_for_inspector(person.id)
    return inspection.id


async def test_answers_notes_and_photos_made_offline_reach_the_server_once_in_order(
    browser: Browser, web_bot: WebBot
) -> None:
    chat = await open_with_worker(browser, web_bot)
    page = chat.page
    cdp = await page.context.new_cdp_session(page)
    manifest = await cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [] and '"name": "品检"' in manifest["data"]
    # installable, but for the test browser's incognito profile
    errors = (await cdp.send("Page.getInstallabilityErrors"))["installabilityErrors"]
    assert [error["errorId"] for error in errors] == ["in-incognito"]
    await cdp.detach()
    await start_inspection(chat)
    insp = await inspection_id(web_bot)

    await page.context.set_offline(True)
    await expect(page.locator("#status")).to_contain_text("离线")
    # item 2 on the server's own message; from then on the page shows the items itself
    await chat.bot_messages().last.locator(".key", has_text="1分").first.click()
    card = page.locator("#log article.local.card").last
    await expect(card).to_contain_text(f"第 3/{ITEMS} 项")
    await offline_photo(
        chat,
        "#log article.local.card .key:has-text('📷 照片')",
        FilePayload(name="a.png", mimeType="image/png", buffer=PHOTO_A),
    )
    await offline_tap(chat, "1分")
    await expect(page.locator("#log article.local.card").last).to_contain_text(f"第 4/{ITEMS} 项")
    await offline_photo(
        chat, "#camera-button", FilePayload(name="b.png", mimeType="image/png", buffer=PHOTO_B)
    )
    await offline_tap(chat, "📝 备注")
    await page.locator("#text").fill("消防通道有杂物")
    await page.locator("#text").press("Enter")
    await offline_tap(chat, "1分")
    await expect(page.locator("#status")).to_contain_text("6 条待发送")
    queued = page.locator("#log article.queued")
    await expect(queued).to_have_count(6)
    await expect(queued.locator(".meta", has_text="待发送")).to_have_count(6)
    await chat.shot("offline-01-queued")

    # a reload without a connection: the service worker serves the page, the queue is kept
    await page.reload()
    await expect(page.locator("#composer")).to_be_visible()
    await expect(page.locator("#status")).to_contain_text("离线 · 6 条待发送")
    await expect(page.locator("#log article.queued")).to_have_count(6)
    await expect(page.locator("#log article.queued img.preview")).to_have_count(2)
    # the conversation as it was before the connection went, kept on the device too
    await expect(page.locator("#log article.bot", has_text=f"共 {ITEMS} 项")).to_have_count(1)
    item_2 = page.locator("#log article.bot", has_text=f"第 2/{ITEMS} 项")
    await expect(item_2).to_have_count(1)
    await expect(item_2.locator(".key")).to_have_count(0)  # answered offline
    await expect(page.locator("#log article.local.card").last).to_contain_text(f"第 5/{ITEMS} 项")
    await chat.shot("offline-02-reloaded")
    for no in range(5, ITEMS + 1):
        await offline_tap(chat, "0分" if no == LOST else "1分")
    await expect(page.locator("#log article.local.card").last).to_contain_text(
        f"全部 {ITEMS} 项都已作答"
    )
    await expect(page.locator("#status")).to_contain_text(f"{6 + ITEMS - 4} 条待发送")
    await chat.shot("offline-03-all-answered")

    # the tab is closed, and the chat opened again from the home screen, still offline
    check_clean(chat)
    context = page.context
    await page.close()
    chat = ChatPage(await context.new_page(), web_bot, chat.chat_id)
    page = chat.page
    await page.goto(f"{web_bot.base}/chat")
    await expect(page.locator("#status")).to_contain_text(f"离线 · {6 + ITEMS - 4} 条待发送")
    await expect(page.locator("#log article.local.card").last).to_contain_text(
        f"全部 {ITEMS} 项都已作答"
    )

    await context.set_offline(False)
    await expect(page.locator("#status")).to_have_text("已连接", timeout=60_000)
    await chat.settle()
    await expect(page.locator("#log article.local")).to_have_count(0)
    await expect(page.locator("#log article.queued")).to_have_count(0)
    await chat.images_loaded(2)  # the photos, sent and shown back by the server
    # the server's order: item 7 lost points, so its task set-up comes before submitting
    await expect(chat.bot_messages().last).to_contain_text(f"整改任务 · 第 {LOST}")
    await chat.shot("offline-04-back-online")
    await chat.tap("确认创建")
    await expect(chat.bot_messages().last).to_contain_text(f"全部 {ITEMS} 项都已作答")
    await chat.bot_messages().last.locator(".key", has_text="提交").click()
    await expect(chat.bot_messages().last).to_contain_text("检查完成：阳光花园")

    async with web_bot.runtime.db.read() as tx:
        inspection = await tx.inspections.get(insp)
        assert inspection is not None and inspection.status is InspectionStatus.COMPLETED
        answers = {a.item_no: a for a in await tx.answers.for_inspection(insp)}
        assert sorted(answers) == list(range(1, ITEMS + 1))
        for no, answer in answers.items():
            assert answer.score == (0 if no == LOST else 1), no
            assert len(await tx.answers.history(insp, no)) == 1, f"item {no} set twice"
        photos = {no: [e.sha256 for e in await tx.evidence.for_item(insp, no)] for no in (3, 4)}
        assert photos == {3: [sha(PHOTO_A)], 4: [sha(PHOTO_B)]}
        assert [n.text for n in await tx.notes.for_item(insp, 4)] == ["消防通道有杂物"]
        assert len(await tx.evidence.for_inspection(insp)) == 2
        assert len(await tx.tasks.items_with_tasks(insp)) == 1
        views, _ = await transcript(tx, chat.chat_id, 0, 5000)
    # what the person sent offline, each once and in the order it was made
    mine = [v for v in views if v["from"] == "me"][-3:]
    assert [v.get("photos") or v["text"] for v in mine] == [
        [sha(PHOTO_A)],
        [sha(PHOTO_B)],
        "消防通道有杂物",
    ]
    assert len({v["key"] for v in views if v["from"] == "me"}) == len(
        [v for v in views if v["from"] == "me"]
    )
    check_clean(chat)


async def test_an_item_answered_elsewhere_meanwhile_follows_the_server_order(
    browser: Browser, web_bot: WebBot
) -> None:
    chat = await open_with_worker(browser, web_bot)
    await start_inspection(chat)
    insp = await inspection_id(web_bot)
    await chat.page.context.set_offline(True)
    await chat.bot_messages().last.locator(".key", has_text="1分").first.click()
    await expect(chat.page.locator("#status")).to_contain_text("1 条待发送")

    # meanwhile the same inspector answers item 2 in another window that is online
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    other = ChatPage(await context.new_page(), web_bot, chat.chat_id)
    await other.page.goto(web_bot.link("王检查"))
    await other.settle()
    await expect(other.bot_messages().last).to_contain_text(f"第 2/{ITEMS} 项")
    await other.tap("0.5分")

    await chat.page.context.set_offline(False)
    notice = chat.page.locator("#log article.bot", has_text="在您离线期间已在别处作答")
    await expect(notice).to_contain_text("「0.5分")
    await expect(notice).to_contain_text("以您离线时的回答「1分")
    await chat.settle()
    await chat.shot("offline-05-conflict")
    async with web_bot.runtime.db.read() as tx:
        history = await tx.answers.history(insp, 2)
    assert [revision.score for revision in history] == [0.5, 1]
    check_clean(chat)
    check_clean(other)


async def test_the_app_files_and_the_standard_kept_for_offline(web_bot: WebBot) -> None:
    """The manifest and the service worker (from the root, so it controls /chat) are allowed by
    the page's policy; /api/inspections gives the signed-in inspector the items with the very
    labels of the flows' buttons and the answers as the server has them."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{web_bot.base}/chat") as response:
            policy = response.headers["Content-Security-Policy"]
            page = await response.text()
        assert "worker-src 'self'" in policy and "manifest-src 'self'" in policy
        assert 'rel="manifest" href="/static/manifest.webmanifest"' in page
        async with http.get(f"{web_bot.base}/static/manifest.webmanifest") as response:
            assert response.headers["Content-Type"] == "application/manifest+json"
            manifest = json.loads(await response.read())
        assert manifest["name"] == "品检" and manifest["lang"] == "zh-CN"
        assert manifest["start_url"] == "/chat"
        assert [icon["src"] for icon in manifest["icons"]] == ["/static/icon.svg"]
        async with http.get(f"{web_bot.base}/sw.js") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/javascript")
            assert "/api/" not in await response.text()  # the API is never cached

        async with http.get(f"{web_bot.base}/api/inspections") as response:
            assert response.status == 401
        inspector = ApiClient(http, web_bot.base, web_bot.tokens["王检查"])
        assert await inspector.text("/inspect") == 200
        await wait_until(web_bot.delivered)
        assert await inspector.press("阳光花园") == 200
        await wait_until(web_bot.delivered)
        assert await inspector.press("0.5分") == 200
        await wait_until(web_bot.delivered)
        async with http.get(
            f"{web_bot.base}/api/inspections", headers=inspector.headers
        ) as response:
            assert response.status == 200
            assert response.headers["Cache-Control"] == "no-store"
            (kept,) = (await response.json())["inspections"]
        # item 1 as the server first showed it (since edited into its one-line record)
        (shown,) = [m for m in await inspector.history() if "第 1/62 项" in m["text"]]
    assert kept["site"] == "阳光花园" and len(kept["items"]) == ITEMS
    first, second = kept["items"][:2]
    assert first["answer"] == "1" and first["pending"]  # lost points, no task yet
    assert second["answer"] == "-" and second["pending"]
    assert first["section"] == "一、客户管理" and first["content"] and first["method"]
    assert first["levels"] == [row[0][0] for row in shown["buttons"][:3]]
    assert first["levels"] == ["1分 符合", "0.5分 部分符合", "0分 不符合"]


async def test_a_task_set_up_confirmed_offline_and_the_inspection_goes_on(
    browser: Browser, web_bot: WebBot
) -> None:
    chat = await open_with_worker(browser, web_bot)
    page = chat.page
    await chat.say("/inspect")
    await chat.tap("阳光花园")

    def standard(response: Response) -> bool:
        return response.url.endswith("/api/inspections")

    async with page.expect_response(standard):
        await chat.tap("0分")
    await expect(chat.bot_messages().last).to_contain_text("整改任务 · 第 1 项")
    insp = await inspection_id(web_bot)
    await page.context.set_offline(True)
    await expect(page.locator("#status")).to_contain_text("离线")
    await chat.bot_messages().last.locator(".key", has_text="确认创建").click()
    await expect(page.locator("#log article.local.card").last).to_contain_text(f"第 2/{ITEMS} 项")
    await offline_tap(chat, "不适用")
    await expect(page.locator("#status")).to_contain_text("2 条待发送")
    await page.context.set_offline(False)
    await expect(page.locator("#status")).to_have_text("已连接", timeout=30_000)
    await chat.settle()
    await expect(chat.bot_messages().last).to_contain_text(f"第 3/{ITEMS} 项")
    async with web_bot.runtime.db.read() as tx:
        assert await tx.tasks.items_with_tasks(insp) == {1}
        marks = {a.item_no: (a.score, a.not_applicable) for a in await tx.answers.marks(insp)}
    assert marks == {1: (0, False), 2: (None, True)}
    check_clean(chat)
