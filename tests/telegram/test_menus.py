"""Telegram's command menu per chat (setMyCommands with BotCommandScopeChat): each person sees
exactly the commands their roles allow; the default menu, for everyone else, has 帮助 only.
The Chinese command words work as typed text."""

from __future__ import annotations

import pytest

from storage.records import Role
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.telegram.botrunner import BotRunner

pytestmark = pytest.mark.database_neutral


def menu(fake: FakeTelegramAPI, chat_id: int) -> list[str]:
    return [c["command"] for c in fake.commands_for({"type": "chat", "chat_id": chat_id})]


async def test_each_chat_gets_the_menu_of_its_persons_roles(
    bot: BotRunner, fake: FakeTelegramAPI
) -> None:
    assert fake.commands == [{"command": "help", "description": "查看帮助"}]
    seeded = await bot.seed()
    people = {
        5001: "王检查",
        5002: "张三",
        5004: "赵经理",
    }
    for user_id, name in people.items():
        user = fake.user(user_id, name)
        await bot.act(user.send_command("start", seeded["codes"][name]))
    menus = {
        user_id: await fake.wait_for(lambda user_id=user_id: menu(fake, user_id))
        for user_id in people
    }
    assert menus == {
        5001: ["inspect", "resume", "pause", "status", "tasks", "plans", "help"],
        5002: ["tasks", "help"],
        5004: ["tasks", "stats", "overdue", "report", "bulletin", "plans", "settings", "help"],
    }
    described = fake.commands_for({"type": "chat", "chat_id": 5004})
    assert [c["description"] for c in described][1:7] == [
        "项目排名与整改统计",
        "逾期整改任务",
        "最近一次检查报告",
        "月度品质检查通报",
        "本期检查计划",
        "查看公司设置",
    ]

    stranger = fake.user(6666, "Mallory")
    await bot.act(stranger.send_text("帮助"))
    assert menu(fake, 6666) == []
    assert "还没有开通账号" in fake.texts(6666)[-1]


async def test_a_changed_role_changes_the_menu_when_the_chat_is_checked_again(
    bot: BotRunner, fake: FakeTelegramAPI
) -> None:
    seeded = await bot.seed()
    user = fake.user(5002, "张三")
    await bot.act(user.send_command("start", seeded["codes"]["张三"]))
    await fake.wait_for(lambda: menu(fake, 5002) == ["tasks", "help"])
    calls = len(fake.calls("setMyCommands"))
    await bot.act(user.send_text("任务"))
    assert "我的整改任务" in fake.texts(5002)[-1]
    assert len(fake.calls("setMyCommands")) == calls, "an unchanged menu is not set again"

    async with bot.db.transaction() as tx:
        await tx.roles.grant(seeded["people"]["张三"].id, seeded["site"].id, Role.MANAGER)
    bot.channel.menus.clock = lambda: float("inf")  # the recheck is due
    await bot.act(user.send_text("统计"))
    assert "项目排名" in fake.texts(5002)[-1]
    await fake.wait_for(
        lambda: (
            menu(fake, 5002)
            == ["tasks", "stats", "overdue", "report", "bulletin", "plans", "settings", "help"]
        )
    )

    async with bot.db.transaction() as tx:
        for role in (Role.RESPONSIBLE, Role.MANAGER):
            await tx.roles.revoke(seeded["people"]["张三"].id, seeded["site"].id, role)
    await bot.act(user.send_text("帮助"))
    await fake.wait_for(lambda: menu(fake, 5002) == ["help"])
