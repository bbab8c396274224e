"""Driving the web chat in Debian's headless Chromium with Playwright, as a person would."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from playwright.async_api import (
    Browser,
    FilePayload,
    Locator,
    Page,
    Response,
    ViewportSize,
    expect,
)

from tests.web.conftest import ARTIFACTS, WebBot
from tests.web.helpers import wait_until

PHONE = ViewportSize(width=375, height=740)
LARGE_PHONE = ViewportSize(width=390, height=844)

# What the person sees at the end of the chat: the newest message's end inside the visible
# part of the conversation, and whether the "新消息 ↓" marker is showing.
SIGHT = """() => {
  const log = document.getElementById('log');
  const view = log.getBoundingClientRect();
  const newest = log.lastElementChild.getBoundingClientRect();
  const jump = document.getElementById('jump');
  return {
    newest: newest.bottom <= view.bottom + 1 && newest.bottom > view.top,
    marker: jump !== null && !jump.hidden && jump.getBoundingClientRect().height > 0,
    below: log.scrollHeight - log.scrollTop - log.clientHeight,
  };
}"""

# Dates in message texts and file names drawn over more than one line (as YYYY-MM-DD).
BROKEN_DATES = """() => {
  const broken = [];
  for (const text of document.querySelectorAll('#log .text, #log .doc-name')) {
    const walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/\\d{4}-\\d{1,2}-\\d{1,2}/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


class ChatPage:
    """One person's chat page in its own browser context (its own storage and cookies)."""

    def __init__(self, page: Page, bot: WebBot, chat_id: str) -> None:
        self.page = page
        self.bot = bot
        self.chat_id = chat_id
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                self.problems.append(f"console: {message.text}")
                if message.type == "error"
                else None
            ),
        )

    @classmethod
    async def open(
        cls, browser: Browser, bot: WebBot, name: str, viewport: ViewportSize = PHONE
    ) -> ChatPage:
        """Sign in with the person's link; the first visit greets them."""
        context = await browser.new_context(
            viewport=viewport, device_scale_factor=2, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        person = await bot.person(name)
        chat = cls(await context.new_page(), bot, str(person.id))
        await chat.act(lambda: chat.page.goto(bot.link(name)))
        await expect(chat.page.locator("#composer")).to_be_visible()
        await expect(chat.page.locator("#who")).to_have_text(name)
        return chat

    @property
    def log(self) -> Locator:
        return self.page.locator("#log")

    def bot_messages(self) -> Locator:
        return self.page.locator("#log article.bot")

    async def settle(self) -> None:
        """Everything queued has been delivered, and this page shows the newest message."""
        await wait_until(self.bot.delivered)
        seq = await self.bot.last_seq(self.chat_id)
        await self.page.wait_for_function(
            "seq => Number(document.getElementById('log').dataset.seq || 0) >= seq", arg=seq
        )

    async def act(self, action: Callable[[], Awaitable[Any]], path: str = "/api/send") -> None:
        """Do something that posts to the server, wait for the answer, then settle."""

        def posted(response: Response) -> bool:
            return response.request.method == "POST" and response.url.endswith(path)

        async with self.page.expect_response(posted) as answer:
            await action()
        assert (await answer.value).status == 200
        await self.settle()

    async def tap(self, label: str) -> None:
        """Tap the button `label` under the newest bot message that has buttons."""
        message = self.page.locator("#log article.bot:has(.keyboard)").last
        button = message.locator(".key", has_text=label).first
        await self.act(button.click)

    async def say(self, text: str) -> None:
        await self.page.locator("#text").fill(text)
        await self.act(lambda: self.page.locator("#text").press("Enter"))

    async def choose_file(self, opener: Locator, file: FilePayload) -> None:
        """Tap something that opens the file picker and pick `file`; it is uploaded."""
        async with self.page.expect_file_chooser() as chooser_info:
            await opener.click()
        chooser = await chooser_info.value
        await self.act(lambda: chooser.set_files(files=file), path="/api/upload")

    async def command(self, label: str) -> None:
        await self.page.get_by_role("button", name="命令菜单").click()
        await self.act(self.page.locator("#commands .menu-item", has_text=label).click)

    async def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=ARTIFACTS / f"{name}.png")

    async def images_loaded(self, count: int) -> None:
        """At least `count` photos in the chat are really displayed (fetched with the token)."""
        await self.page.wait_for_function(
            """n => [...document.querySelectorAll('#log img[data-sha]')]
                    .filter(img => img.complete && img.naturalWidth > 0).length >= n""",
            arg=count,
        )

    async def sight(self) -> dict[str, Any]:
        """Whether the newest message is in view, whether "新消息 ↓" shows, and how far the
        conversation goes on below the view (px)."""
        seen: dict[str, Any] = await self.page.evaluate(SIGHT)
        return seen

    async def in_view(self, locator: Locator) -> bool:
        """The element is wholly inside the visible part of the conversation."""
        inside: bool = await locator.evaluate(
            """el => {
                const box = el.getBoundingClientRect();
                const view = document.getElementById('log').getBoundingClientRect();
                return box.top >= view.top - 1 && box.bottom <= view.bottom + 1;
            }"""
        )
        return inside

    async def scroll_up(self, pixels: int) -> None:
        """The person drags the conversation down to read further up."""
        await self.log.evaluate("(log, px) => log.scrollBy(0, -px)", pixels)
        await self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")

    def check_clean(self) -> None:
        assert self.problems == [], self.problems
