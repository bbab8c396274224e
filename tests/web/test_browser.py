"""The web chat in a real browser (Debian's headless Chromium, driven by Playwright): a whole
inspection through the page, what the 责任人 and the manager see, sign-in and sign-out, and
the page's safe rendering. Screenshots go to test-artifacts/web/."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, FilePayload, Response, expect

from bot.core.messages import Outgoing
from bot.handlers.web.links import revoke_logins
from storage.records import OutboxKind, Severity
from tests.web.browser import PHONE, ChatPage
from tests.web.conftest import WebBot
from tests.web.helpers import png

pytestmark = pytest.mark.database_neutral

ITEMS = 62
FIRST_SECTION = 23


async def test_a_whole_inspection_through_the_page(browser: Browser, web_bot: WebBot) -> None:
    inspector = await ChatPage.open(browser, web_bot, "王检查")
    responsible = await ChatPage.open(browser, web_bot, "李四")
    other = await ChatPage.open(browser, web_bot, "张三")
    manager = await ChatPage.open(browser, web_bot, "赵经理")
    await expect(inspector.bot_messages().first).to_contain_text("欢迎，王检查")
    await expect(inspector.bot_messages().first).to_contain_text("阳光花园：检查员")
    await inspector.shot("01-inspector-welcome")

    await inspector.command("开始检查")
    mine = inspector.page.locator("#log article.me").last
    await expect(mine).to_have_text(re.compile("开始检查"))
    await inspector.tap("阳光花园")
    item = inspector.bot_messages().last
    await expect(item).to_contain_text(f"第 1/{ITEMS} 项")
    await expect(item.locator(".key", has_text="1分")).to_have_count(1)
    await inspector.shot("02-first-item")

    photo_button = inspector.page.locator("#log article.bot:has(.keyboard)").last.locator(
        ".key", has_text="📷 照片"
    )
    async with inspector.page.expect_response(lambda r: r.url.endswith("/api/send")):
        await inspector.choose_file(
            photo_button, FilePayload(name="现场.png", mimeType="image/png", buffer=png())
        )
    await inspector.images_loaded(1)
    await expect(inspector.log).to_contain_text("照片已附在第 1 项")
    await expect(inspector.page.locator("#log article.bot:has(.keyboard)").last).to_contain_text(
        "已附：1张照片"
    )
    await inspector.shot("03-photo-attached")

    await inspector.tap("0分")
    await expect(inspector.bot_messages().last.locator(".key", has_text="确认创建")).to_be_visible()
    setup = inspector.bot_messages().last
    setup_id = await setup.get_attribute("data-id")
    await inspector.tap("李四")
    await inspector.tap("+3天")
    edited = inspector.page.locator(f'#log article[data-id="{setup_id}"]')
    await expect(edited).to_contain_text("李四")
    await expect(edited.locator(".key", has_text="✓ 李四")).to_have_count(1)
    await inspector.shot("04-task-setup")
    await inspector.tap("确认创建")
    await expect(edited).to_contain_text("整改任务 #1 已创建")
    await expect(edited).to_contain_text("责任人 李四")
    await expect(inspector.bot_messages().last).to_contain_text(f"第 2/{ITEMS} 项")

    await responsible.settle()
    await expect(responsible.log).to_contain_text("整改任务 #1")
    await expect(responsible.log).to_contain_text("第 1 项")
    await responsible.images_loaded(1)
    await responsible.shot("05-responsible-receives-task")
    await other.settle()
    await expect(other.log).not_to_contain_text("整改任务 #1")

    for position in range(2, ITEMS + 1):
        await expect(inspector.bot_messages().last).to_contain_text(f"第 {position}/{ITEMS} 项")
        await inspector.tap("1分")
        if position == FIRST_SECTION:
            await expect(inspector.log).to_contain_text("章节小结：一、客户管理")
            await manager.settle()
            await expect(manager.log).to_contain_text("章节小结：一、客户管理")
            task_row = "#1 第1项 根据物业管理方案制作精神文明建… → 李四"
            await expect(manager.log).to_contain_text(task_row)
            await manager.shot("06-manager-section-summary")
    await expect(inspector.bot_messages().last).to_contain_text("全部 62 项都已作答")
    await inspector.tap("提交")
    completion = inspector.page.locator("#log article.bot", has_text="检查完成：阳光花园")
    await expect(completion).to_contain_text("总分 61 / 62")
    await inspector.shot("07-inspector-completion")

    await manager.settle()
    await expect(manager.log).to_contain_text("检查完成：阳光花园")
    for suffix in ("xlsx", "pdf"):
        link = manager.page.get_by_role(
            "button", name=re.compile(rf"下载 检查报告_阳光花园_.*\.{suffix}")
        )
        await expect(link).to_be_visible(timeout=60_000)
    await expect(manager.log).to_contain_text("各章节得分率")
    await manager.shot("08-manager-completion-and-report")
    async with manager.page.expect_download() as download_info:
        await link.click()
    download = await download_info.value
    assert download.suggested_filename.startswith("检查报告_阳光花园_")
    assert download.suggested_filename.endswith(".pdf")
    path = await download.path()
    assert path.read_bytes().startswith(b"%PDF")

    await responsible.command("整改任务")
    await expect(responsible.bot_messages().last).to_contain_text("#1")
    await responsible.shot("09-responsible-task-list")

    await inspector.page.reload()
    await inspector.settle()
    await expect(inspector.log).to_contain_text("检查完成：阳光花园")
    kept = inspector.page.get_by_role("button", name=re.compile(r"下载 检查报告_阳光花园_.*\.xlsx"))
    await expect(kept).to_be_visible()
    await expect(inspector.page.locator(f'#log article[data-id="{setup_id}"]')).to_have_count(1)
    await inspector.images_loaded(1)
    for page in (inspector, responsible, other, manager):
        page.check_clean()


async def test_refused_uploads_say_why_in_the_chat(browser: Browser, web_bot: WebBot) -> None:
    inspector = await ChatPage.open(browser, web_bot, "王检查")
    await inspector.say("/inspect")
    await inspector.tap("阳光花园")
    for name, mime, data, answer in (
        ("说明.txt", "text/plain", "不是图片".encode(), "只能接收图片作为证据"),
        ("伪装.png", "image/png", b"GIF8 not really", "只能接收图片作为证据"),
        ("超大.png", "image/png", png() + bytes(1_048_576), "文件太大"),
    ):
        await inspector.page.get_by_role("button", name="命令菜单").click()
        gallery = inspector.page.get_by_role("button", name="从相册或文件选择照片")
        await inspector.choose_file(gallery, FilePayload(name=name, mimeType=mime, buffer=data))
        await expect(inspector.bot_messages().last).to_contain_text(answer)
        await expect(inspector.page.locator("#log article.me").last).to_contain_text(name)
    await expect(inspector.log).to_contain_text("上限是 1 MB")
    await inspector.shot("10-refused-uploads")
    inspector.check_clean()


async def test_no_link_and_revoked_links_show_nothing(browser: Browser, web_bot: WebBot) -> None:
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    page = await context.new_page()
    await page.goto(f"{web_bot.base}/chat")
    await expect(page.get_by_role("heading", name="请用专属链接打开")).to_be_visible()
    await expect(page.locator("#composer")).to_be_hidden()

    inspector = await ChatPage.open(browser, web_bot, "王检查")
    assert "#t=" not in inspector.page.url, "the token leaves the address bar"
    person = await web_bot.person("王检查")
    async with web_bot.runtime.db.transaction() as tx:
        await revoke_logins(tx, person.id)
    signed_out = inspector.page.get_by_role("heading", name="链接已失效")
    await expect(signed_out).to_be_visible(timeout=8000)
    await expect(inspector.page.locator("#gate")).to_contain_text("已失效或已被撤销")
    await expect(inspector.log).to_be_hidden()
    await inspector.shot("11-revoked-link")

    await page.goto(web_bot.link("王检查"))
    await expect(page.get_by_role("heading", name="链接已失效")).to_be_visible()
    await expect(page.locator("article")).to_have_count(0)


async def test_bot_text_is_rendered_safely(browser: Browser, web_bot: WebBot) -> None:
    inspector = await ChatPage.open(browser, web_bot, "王检查")
    hostile = (
        "<b>粗体</b> <i>斜体</i><br><code>code</code> "
        '<img src=x onerror="window.hacked=1"> <script>window.hacked=2</script> '
        "&lt;script&gt;alert(1)&lt;/script&gt; &#x4E2D;&#25991; &amp;amp; &bogus; </b>"
        '<a href="javascript:window.hacked=3">链接</a>'
    )
    await web_bot.send_to("王检查", Outgoing(kind=OutboxKind.SEND, text=hostile))
    await inspector.settle()
    text = inspector.bot_messages().last.locator(".text")
    await expect(text.locator("b")).to_have_text("粗体")
    await expect(text.locator("i")).to_have_text("斜体")
    await expect(text.locator("code")).to_have_text("code")
    assert await text.locator("img, script, a").count() == 0
    shown = await text.inner_text()
    assert '<img src=x onerror="window.hacked=1">' in shown
    assert "<script>alert(1)</script>" in shown and "中文" in shown and "&amp; &bogus;" in shown
    assert await inspector.page.evaluate("window.hacked") is None
    inspector.check_clean()


async def test_ill_formed_text_is_refused_with_a_polite_line(
    browser: Browser, web_bot: WebBot
) -> None:
    """Pasted text with a lone surrogate: the server refuses it (400) and the page says why,
    in Chinese, instead of a bare status code; the chat keeps working."""
    inspector = await ChatPage.open(browser, web_bot, "王检查")
    page = inspector.page
    await page.evaluate("document.getElementById('text').value = 'hello \\ud800 world'")

    def sent(response: Response) -> bool:
        return response.request.method == "POST" and response.url.endswith("/api/send")

    async with page.expect_response(sent) as answer:
        await page.locator("#text").press("Enter")
    assert (await answer.value).status == 400
    await expect(page.locator("#toast")).to_contain_text("无法识别的字符，未能保存")
    await inspector.say("/help")
    await expect(inspector.bot_messages().last).to_contain_text("可用命令")


async def test_severity_chosen_in_the_task_set_up(browser: Browser, web_bot: WebBot) -> None:
    inspector = await ChatPage.open(browser, web_bot, "王检查")
    await inspector.command("开始检查")
    await inspector.tap("阳光花园")
    await inspector.tap("0分")
    setup = inspector.bot_messages().last
    await expect(setup.locator(".key", has_text="确认创建")).to_be_visible()
    await expect(setup).to_contain_text("严重程度：一般不合格")
    setup_id = await setup.get_attribute("data-id")
    await inspector.tap("严重不合格")
    edited = inspector.page.locator(f'#log article[data-id="{setup_id}"]')
    await expect(edited).to_contain_text("严重程度：严重不合格")
    await expect(edited.locator(".key", has_text="✓ 严重不合格")).to_have_count(1)
    await inspector.tap("确认创建")
    await expect(edited).to_contain_text("整改任务 #1 已创建")
    async with web_bot.runtime.db.read() as tx:
        (task,) = await tx.tasks.open_created_by((await web_bot.person("王检查")).id)
    assert task.severity is Severity.SERIOUS
