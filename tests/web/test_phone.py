"""The web chat on a 390×844 phone, as a person holds it: the view follows each reply (or shows
"新消息 ↓" while they read further up), the item's buttons come back after a photo or note,
texts and file buttons lay out cleanly, and 已整改，上传照片 opens the picker. Screenshots go
to test-artifacts/web/ (phone-*.png)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, FilePayload, expect

from bot.core.messages import Outgoing
from storage.records import OutboxKind
from tests.web.browser import BROKEN_DATES, LARGE_PHONE, ChatPage
from tests.web.conftest import WebBot
from tests.web.helpers import png

pytestmark = pytest.mark.database_neutral

ITEMS = 62
ZERO = {7, 31}  # answered 0分: the task set-up comes, then 确认创建


async def open_phone(browser: Browser, bot: WebBot, name: str) -> ChatPage:
    return await ChatPage.open(browser, bot, name, viewport=LARGE_PHONE)


async def start_inspection(chat: ChatPage) -> None:
    await chat.say("/inspect")
    await chat.tap("阳光花园")
    await expect(chat.bot_messages().last).to_contain_text(f"第 1/{ITEMS} 项")


async def reply_in_sight(chat: ChatPage, step: str) -> None:
    """After a reply the person sees it, or sees "新消息 ↓", and one tap on it shows it."""
    seen = await chat.sight()
    if not seen["newest"]:
        assert seen["marker"], f"{step}: the reply is out of sight without a sign ({seen})"
        await chat.page.locator("#jump").click()
        seen = await chat.sight()
        assert seen["newest"], f"{step}: 新消息 ↓ did not bring the reply into view ({seen})"


async def read_above(chat: ChatPage, button: str, step: str) -> None:
    """The person scrolls up to read, keeping the button they will tap on the screen."""
    card = chat.page.locator("#log article.bot:has(.keyboard)").last
    target = card.locator(".key", has_text=button).first
    await chat.scroll_up(400)
    if not await chat.in_view(target):
        await target.evaluate("el => el.scrollIntoView({block: 'end'})")
        await chat.page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
    assert await chat.in_view(target)
    # farther than the page's "still at the end" margin (120 px): it no longer follows by itself
    assert (await chat.sight())["below"] > 120, f"{step}: the person did not leave the end"


async def test_a_whole_inspection_scrolling_up_before_every_fifth_answer(
    browser: Browser, web_bot: WebBot
) -> None:
    """Done when of issue 17: every reply is in sight without a manual scroll."""
    inspector = await open_phone(browser, web_bot, "王检查")
    await start_inspection(inspector)
    await inspector.shot("phone-01-first-item")
    for position in range(1, ITEMS + 1):
        step = f"item {position}"
        await expect(inspector.bot_messages().last).to_contain_text(f"第 {position}/{ITEMS} 项")
        button = "0分" if position in ZERO else "1分"
        if position % 5 == 0:
            await read_above(inspector, button, step)
            if position == 5:
                await inspector.shot("phone-02-reading-above")
        await inspector.tap(button)
        await reply_in_sight(inspector, step)
        if position in ZERO:
            await expect(inspector.bot_messages().last).to_contain_text("整改任务 · 第")
            if position == min(ZERO):
                await inspector.shot("phone-03-task-setup-in-sight")
            await read_above(inspector, "确认创建", f"{step} set-up")
            await inspector.tap("确认创建")
            await reply_in_sight(inspector, f"{step} task")
    await expect(inspector.bot_messages().last).to_contain_text(f"全部 {ITEMS} 项都已作答")
    # The report files are rendered after this: wait for the completion, not for them.
    await inspector.bot_messages().last.locator(".key", has_text="提交").click()
    await expect(inspector.bot_messages().last).to_contain_text("检查完成：阳光花园")
    await reply_in_sight(inspector, "submit")

    documents = inspector.page.locator("#log .doc")
    await expect(documents).to_have_count(2, timeout=60_000)
    await inspector.settle()
    await inspector.images_loaded(1)
    await reply_in_sight(inspector, "report files")
    await inspector.shot("phone-04-report-files")
    chart = inspector.page.locator("#log article.bot .photos.single img").last
    shown = await chart.evaluate(
        """img => ({box: img.clientWidth / img.clientHeight,
                    picture: img.naturalWidth / img.naturalHeight})"""
    )
    assert abs(shown["box"] - shown["picture"]) < 0.02 * shown["picture"], shown  # not cropped
    lines = await documents.locator(".doc-action").evaluate_all(
        """els => els.map(el => {
            const range = document.createRange();
            range.selectNodeContents(el);
            return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
        })"""
    )
    assert lines == [1, 1], "下载 stays on one line"
    assert await inspector.page.evaluate(BROKEN_DATES) == []
    inspector.check_clean()


async def test_new_messages_while_reading_show_a_marker(browser: Browser, web_bot: WebBot) -> None:
    responsible = await open_phone(browser, web_bot, "李四")
    for number in range(1, 7):
        text = f"<b>通知 {number}</b>\n" + "请按时完成本周的整改任务，并上传整改后的照片。\n" * 4
        await web_bot.send_to("李四", Outgoing(kind=OutboxKind.SEND, text=text.strip()))
    await responsible.settle()
    assert (await responsible.sight())["newest"]  # followed while at the end
    await responsible.scroll_up(700)
    assert not (await responsible.sight())["newest"]

    inspector = await open_phone(browser, web_bot, "王检查")
    await start_inspection(inspector)
    await inspector.tap("0分")
    await inspector.tap("李四")
    await inspector.tap("确认创建")
    await responsible.settle()
    task = responsible.bot_messages().last
    await expect(task).to_contain_text("整改任务 #1")
    marker = responsible.page.get_by_role("button", name="新消息 ↓")
    await expect(marker).to_be_visible()
    seen = await responsible.sight()
    assert not seen["newest"] and seen["below"] > 700, "the person keeps their place"
    await responsible.shot("phone-05-new-message-marker")
    await marker.click()
    assert (await responsible.sight())["newest"]
    await expect(marker).to_be_hidden()
    await responsible.shot("phone-06-after-the-marker")
    responsible.check_clean()
    inspector.check_clean()


async def test_the_item_buttons_are_in_view_after_a_photo_or_note(
    browser: Browser, web_bot: WebBot
) -> None:
    inspector = await open_phone(browser, web_bot, "王检查")
    await start_inspection(inspector)
    card = inspector.page.locator("#log article.bot:has(.keyboard)").last
    photo_button = card.locator(".key", has_text="📷 照片")
    async with inspector.page.expect_response(lambda r: r.url.endswith("/api/send")):
        await inspector.choose_file(
            photo_button, FilePayload(name="现场.png", mimeType="image/png", buffer=png())
        )
    await inspector.images_loaded(1)
    await expect(inspector.log).to_contain_text("照片已附在第 1 项")
    await expect(card).to_contain_text("已附：1张照片")
    for label in ("1分", "0.5分", "0分"):
        assert await inspector.in_view(card.locator(".key", has_text=label).first), label
    await inspector.shot("phone-07-after-a-photo")

    await inspector.tap("📝 备注")
    await inspector.say("消防通道有杂物")
    await expect(inspector.log).to_contain_text("已为第 1 项保存备注")
    await expect(card).to_contain_text("已附：1张照片，1条备注")
    for label in ("1分", "0.5分", "0分"):
        assert await inspector.in_view(card.locator(".key", has_text=label).first), label
    await inspector.shot("phone-08-after-a-note")

    await inspector.tap("0分")
    setup = inspector.page.locator("#log article.bot:has(.keyboard)").last
    await expect(setup).to_contain_text("整改任务 · 第 1 项")
    await inspector.choose_file(
        setup.locator(".key", has_text="📷 照片"),
        FilePayload(name="问题.png", mimeType="image/png", buffer=png(tint=60)),
    )
    await expect(inspector.log).to_contain_text("照片已附在第 1 项（共 2 张）")
    assert await inspector.in_view(setup.locator(".key", has_text="确认创建"))
    await inspector.shot("phone-08b-task-set-up-after-a-photo")
    inspector.check_clean()


async def test_the_item_card_shows_current_and_attached_on_lines_of_their_own(
    browser: Browser, web_bot: WebBot
) -> None:
    inspector = await open_phone(browser, web_bot, "王检查")
    await start_inspection(inspector)
    await inspector.choose_file(
        inspector.page.get_by_role("button", name="拍照上传"),
        FilePayload(name="现场.png", mimeType="image/png", buffer=png()),
    )
    await inspector.tap("1分")
    await inspector.tap("上一项")
    card = inspector.bot_messages().last.locator(".text")
    shown = await card.inner_text()
    assert "\n当前：1分 符合\n已附：1张照片\n" in shown + "\n", shown
    await inspector.shot("phone-09-current-and-attached")
    inspector.check_clean()


async def test_dates_in_lists_are_not_broken_at_the_hyphen(
    browser: Browser, web_bot: WebBot
) -> None:
    """A list whose dates fall at every place of a line: none is drawn over two lines."""
    inspector = await open_phone(browser, web_bot, "王检查")
    rows = [f"· #{n} {'整改' * (n % 4)}{'责' * n} 达标 2026-12-{n:02d}" for n in range(1, 25)]
    await web_bot.send_to("王检查", Outgoing(kind=OutboxKind.SEND, text="\n".join(rows)))
    await inspector.settle()
    assert await inspector.page.evaluate(BROKEN_DATES) == []
    await inspector.shot("phone-10-dates-in-a-list")
    inspector.check_clean()


async def test_fixed_opens_the_photo_picker(browser: Browser, web_bot: WebBot) -> None:
    responsible = await open_phone(browser, web_bot, "李四")
    inspector = await open_phone(browser, web_bot, "王检查")
    await start_inspection(inspector)
    await inspector.tap("0分")
    await inspector.tap("李四")
    await inspector.tap("确认创建")
    await responsible.settle()
    await expect(responsible.log).to_contain_text("整改任务 #1")
    fixed = responsible.page.locator("#log .key", has_text="已整改，上传照片").last
    await responsible.choose_file(
        fixed, FilePayload(name="整改后.png", mimeType="image/png", buffer=png(tint=90))
    )
    await expect(responsible.bot_messages().last).to_contain_text("已收到整改照片（共 1 张）")
    await responsible.images_loaded(1)
    await responsible.shot("phone-11-fix-photo")
    responsible.check_clean()


async def test_an_entered_figure_is_on_the_card_with_the_proposed_level(
    browser: Browser, web_bot: WebBot
) -> None:
    inspector = await open_phone(browser, web_bot, "王检查")
    await start_inspection(inspector)
    for _ in range(3):
        await inspector.tap("1分")
    await inspector.tap("录入数据")
    await inspector.say("95")
    card = inspector.page.locator("#log article.bot:has(.keyboard)").last
    await expect(card).to_contain_text("第 4/62 项")
    await expect(card).to_contain_text("已录入：接通率 95%（未达标）")
    await expect(card).to_contain_text("建议：0分 不符合要求")
    assert await inspector.in_view(card.locator(".key", has_text="0分").first)
    await inspector.shot("phone-12-entered-figure")
    inspector.check_clean()


async def test_details_show_the_tasks_photos(browser: Browser, web_bot: WebBot) -> None:
    responsible = await open_phone(browser, web_bot, "李四")
    inspector = await open_phone(browser, web_bot, "王检查")
    await start_inspection(inspector)
    await inspector.choose_file(
        inspector.page.get_by_role("button", name="拍照上传"),
        FilePayload(name="现场.png", mimeType="image/png", buffer=png()),
    )
    await inspector.tap("0分")
    await inspector.tap("李四")
    await inspector.tap("确认创建")
    await responsible.settle()
    shown = await responsible.page.locator("#log img[data-sha]").count()
    await responsible.tap("查看详情")
    await responsible.images_loaded(shown + 1)
    await expect(responsible.log).to_contain_text("整改任务 #1 · 整改前照片 1 张")
    await expect(responsible.bot_messages().last).to_contain_text("整改任务 #1")
    await responsible.shot("phone-13-task-details")
    responsible.check_clean()
    inspector.check_clean()
