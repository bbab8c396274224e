"""Telegram's command menu per chat: each person's private chat lists exactly the commands
their roles allow (`bot.flows.commands`), set with the chat's own scope
(BotCommandScopeChat); everyone else sees the default menu, 帮助 only.

Roles change from the command line, in another process, so a chat's menu is checked again
when the chat writes after `RECHECK_SECONDS`; Telegram is asked to change it only when it
differs from what this process set last.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from bot.flows import commands
from storage.db import Database
from storage.records import Channel

log = logging.getLogger(__name__)

RECHECK_SECONDS = 600.0
DEFAULT = (commands.BY_NAME["help"],)


def _bot_commands(menu: tuple[commands.Command, ...]) -> list[BotCommand]:
    return [BotCommand(c.name, c.label) for c in menu]


class ChatMenus:
    def __init__(self, db: Database, bot: Bot, clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.bot = bot
        self.clock = clock
        # chat id -> (the command names set for it, None: the default menu; when checked)
        self._known: dict[int, tuple[tuple[str, ...] | None, float]] = {}

    async def set_default(self) -> None:
        await self.bot.set_my_commands(_bot_commands(DEFAULT), scope=BotCommandScopeDefault())

    async def check(self, user_id: int, chat_id: int) -> None:
        """Bring the private chat's menu in line with its person's roles (a stranger's chat
        gets the default menu back). A failure is logged; the next check tries again."""
        known = self._known.get(chat_id)
        now = self.clock()
        if known is not None and now - known[1] < RECHECK_SECONDS:
            return
        async with self.db.read() as tx:
            menu = await commands.for_account(tx, Channel.TELEGRAM, str(user_id))
        names = tuple(c.name for c in menu) if menu is not None else None
        if known is not None and known[0] == names:
            self._known[chat_id] = (names, now)
            return
        scope = BotCommandScopeChat(chat_id)
        try:
            if menu is None:
                await self.bot.delete_my_commands(scope=scope)
            else:
                await self.bot.set_my_commands(_bot_commands(menu), scope=scope)
        except TelegramError as exc:
            log.warning("telegram: the command menu of a chat was not set (%s)", exc)
            self._known.pop(chat_id, None)
            return
        self._known[chat_id] = (names, now)
