"""A Telegram project group with the real adapter against the fake Bot API: /bind in the
group, the polite refusal of everything else there, mentions as Telegram shows them, and a
group that removed the bot."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from bot.flows import group_posts
from storage.records import Channel, GroupKind, Role
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.telegram.botrunner import BotRunner

GROUP = -1001234567890
FOOTER = "请在与品检的私聊中处理"


async def bound_group(bot: BotRunner, fake: FakeTelegramAPI) -> dict[str, object]:
    """The demo site, 赵经理 (manager) and 张三 bound on Telegram, and the group bound by
    赵经理 with /bind."""
    s = await bot.seed()
    codes = s["codes"]
    assert isinstance(codes, dict)
    manager, zhang = fake.user(5001, "赵经理"), fake.user(5002, "张三")
    await bot.act(manager.send_command("start", codes["赵经理"]))
    await bot.act(zhang.send_command("start", codes["张三"]))
    fake.group(GROUP, "阳光花园项目群")
    async with bot.db.transaction() as tx:
        code = (await tx.groups.create_code(site_id=1)).code
    await bot.act(manager.send_command("bind", code, chat_id=GROUP, mention_bot=True))
    return s


async def test_a_manager_binds_the_group_and_the_bot_confirms_there(
    bot: BotRunner, fake: FakeTelegramAPI
) -> None:
    await bound_group(bot, fake)
    assert "本群已绑定「阳光花园」" in fake.texts(GROUP)[-1]
    async with bot.db.read() as tx:
        (group,) = await tx.groups.active_for(site_id=1)
    assert (group.kind, group.chat_id, group.title) == (
        GroupKind.TELEGRAM,
        str(GROUP),
        "阳光花园项目群",
    )
    # Everything else in the group is still refused politely, and changes nothing.
    await fake.user(5002, "张三").send_command("inspect", chat_id=GROUP)
    refusal = "请在与机器人的私聊中使用品检，群聊中不处理检查和整改。"
    await fake.wait_for(lambda: fake.texts(GROUP)[-1] == refusal, timeout=10)
    async with bot.db.read() as tx:
        assert await tx.inspections.open_for_site(1) == []


async def test_mentions_are_text_mentions_or_names(bot: BotRunner, fake: FakeTelegramAPI) -> None:
    s = await bound_group(bot, fake)
    people = s["people"]
    assert isinstance(people, dict)
    async with bot.db.transaction() as tx:
        site = await tx.sites.get(1)
        (group,) = await tx.groups.active_for(site_id=1)
        assert site is not None
        for name in ("张三", "李四"):
            await tx.tasks.create(
                site.id,
                f"{name}的问题",
                created_by=None,
                due_date=date(2020, 1, 1),
                responsible_person_id=people[name].id,
            )
        await group_posts.overdue_list(tx, site, group, bot.clock())
    await bot.delivered()
    message = fake.messages(GROUP)[-1]
    assert message.text is not None and message.text.endswith(FOOTER)
    mentions = [e for e in message.entities if e["type"] == "text_mention"]
    assert [
        (e["user"]["id"], message.text[e["offset"] : e["offset"] + e["length"]]) for e in mentions
    ] == [(5002, "张三")]
    assert "李四：" in message.text  # not on Telegram: named, and the post went out
    assert message.buttons() == []


async def test_a_group_that_removed_the_bot_is_marked_inactive(
    bot: BotRunner, fake: FakeTelegramAPI, caplog: pytest.LogCaptureFixture
) -> None:
    await bound_group(bot, fake)
    async with bot.db.transaction() as tx:
        await tx.roles.grant(3, 1, Role.MANAGER)  # 李四 manages too, but is not bound anywhere
        (group,) = await tx.groups.active_for(site_id=1)
    fake.remove_bot(GROUP)
    caplog.set_level(logging.WARNING)
    async with bot.db.transaction() as tx:
        for n in range(2):
            await group_posts.queue(tx, group, "group_file", caption=f"通知 {n}")
    await bot.delivered()
    async with bot.db.read() as tx:
        current = await tx.groups.get(group.id)
    assert current is not None and not current.active
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "marked inactive" in warnings[0]
    note = fake.texts(5001)[-1]
    assert "「阳光花园」的Telegram 项目群已移除品检机器人" in note
    # Private chats go on as before.
    await bot.act(fake.user(5001, "赵经理").send_command("help"))
    assert fake.texts(5001)[-1] != note
    async with bot.db.read() as tx:
        assert await tx.outbox.pending_count(Channel.TELEGRAM) == 0
