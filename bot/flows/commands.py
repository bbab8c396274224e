"""Which commands a person may use, derived from their roles: the one list behind the help
text, the web chat's ☰ menu and Telegram's per-chat command menu, and the Chinese command
words a person may type instead of a /command."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.core import texts
from storage.db import Tx
from storage.records import Channel, Role


@dataclass(frozen=True)
class Command:
    name: str  # the /command
    word: str  # the Chinese command word, typed as the whole message
    roles: frozenset[Role]  # who may use it; every role for 帮助

    @property
    def label(self) -> str:
        """What menus and the help text show."""
        return texts.label("commands", self.name)


INSPECTOR = frozenset({Role.INSPECTOR})
MANAGER = frozenset({Role.MANAGER})
EVERYONE = frozenset(Role)

COMMANDS: tuple[Command, ...] = (
    Command("inspect", "检查", INSPECTOR),
    Command("resume", "继续", INSPECTOR),
    Command("pause", "暂停", INSPECTOR),
    Command("status", "进度", INSPECTOR),
    Command("tasks", "任务", frozenset({Role.INSPECTOR, Role.RESPONSIBLE, Role.MANAGER})),
    Command("stats", "统计", MANAGER),
    Command("overdue", "逾期", MANAGER),
    Command("report", "报告", MANAGER),
    Command("bulletin", "通报", MANAGER),
    Command("plans", "计划", frozenset({Role.INSPECTOR, Role.MANAGER})),
    Command("settings", "设置", MANAGER),
    Command("help", "帮助", EVERYONE),
)
# 复查 (verifying fixes) happens from the task list.
WORDS: dict[str, str] = {c.word: c.name for c in COMMANDS} | {"复查": "tasks"}
BY_NAME: dict[str, Command] = {c.name: c for c in COMMANDS}


def allowed(roles: Iterable[Role]) -> tuple[Command, ...]:
    """The commands a person with these roles may use, in menu order (帮助 for everyone)."""
    held = frozenset(roles)
    return tuple(c for c in COMMANDS if c.roles is EVERYONE or c.roles & held)


def by_word(text: str) -> str | None:
    """The command a message means when it is a command word and nothing else ("检查",
    "/检查"); None for anything else, a word inside a sentence included."""
    return WORDS.get(text.strip().removeprefix("/"))


async def for_person(tx: Tx, person_id: int) -> tuple[Command, ...]:
    return allowed(grant.role for grant in await tx.roles.for_person(person_id))


async def for_account(tx: Tx, channel: Channel, external_id: str) -> tuple[Command, ...] | None:
    """The commands of the person a chat account is bound to; None for a stranger."""
    resolved = await tx.identities.resolve(channel, external_id)
    if resolved is None:
        return None
    return await for_person(tx, resolved[1].id)
