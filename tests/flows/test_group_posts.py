"""Project groups (项目群): binding a Telegram group with /bind, and what a site's groups are
sent — the inspection result, 严重 findings with the photo, the daily 逾期 list @-mentioning
each 责任人, verified fixes in one post, files to a region's group — as outbox rows."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.cli import main
from bot.core.events import EventKind, Incoming
from bot.flows import group_posts
from bot.group_sweeper import GroupSweeper
from storage.records import Channel, ChatGroup, GroupKind, OutboxKind, Severity, TaskStatus
from storage.tables import outbox, tasks
from tests.core.test_capture_time import photo
from tests.flows.harness import Harness
from tests.flows.test_answer_changes import answer_all_from, back_to_item_1
from tests.flows.test_inspection import answer_all, begin, inspector
from tests.flows.test_tasks import setup_task

GROUP_CHAT = "-1001234"
FOOTER = "请在与品检的私聊中处理"


@pytest.fixture(autouse=True)
def data_dir(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PINJIAN_DATA_DIR", str(harness.tmp))
    return harness.tmp


async def group_rows(harness: Harness, channel: Channel, chat_id: str) -> list[Any]:
    async with harness.db.read() as tx:
        result = await tx.connection.execute(
            sa.select(outbox)
            .where(outbox.c.channel == channel, outbox.c.chat_id == chat_id)
            .order_by(outbox.c.id)
        )
        return list(result.all())


async def groups(harness: Harness, site_id: int) -> tuple[ChatGroup, ChatGroup]:
    """A Telegram group and a WeCom robot, both bound to the site."""
    async with harness.db.transaction() as tx:
        telegram = await tx.groups.add(
            GroupKind.TELEGRAM, site_id=site_id, chat_id=GROUP_CHAT, title="阳光花园项目群"
        )
        wecom = await tx.groups.add(GroupKind.WECOM, site_id=site_id, webhook_key="robot-key")
    return telegram, wecom


def in_group(harness: Harness, user_id: int, command: str, args: str = "") -> Incoming:
    return Incoming(
        channel=Channel.TELEGRAM,
        user_id=str(user_id),
        chat_id=GROUP_CHAT,
        key=f"g{next(harness._keys)}",
        kind=EventKind.COMMAND,
        command=command,
        args=args,
        display_name="阳光花园项目群",
    )


async def say_in_group(harness: Harness, user_id: int, command: str, args: str = "") -> str:
    await harness.engine.handle(in_group(harness, user_id, command, args), group=True)
    await harness.flush()
    return harness.chat(GROUP_CHAT).last.text


async def test_a_site_manager_binds_and_unbinds_a_telegram_group(harness: Harness) -> None:
    s = await harness.seed()
    for name, uid in (("赵经理", 104), ("王检查", 101)):
        await harness.user(uid).command("start", s["codes"][name])
    async with harness.db.transaction() as tx:
        code = (await tx.groups.create_code(site_id=s["site"].id)).code

    assert "请先在与品检的私聊中完成绑定" in await say_in_group(harness, 999, "bind", code)
    assert "只有本项目的经理" in await say_in_group(harness, 101, "bind", code)
    assert "无效、已使用或已过期" in await say_in_group(harness, 104, "bind", code)  # used
    async with harness.db.transaction() as tx:
        code = (await tx.groups.create_code(site_id=s["site"].id)).code
    assert "无效" in await say_in_group(harness, 104, "bind", "WRONG")
    bound = await say_in_group(harness, 104, "bind", code.lower())
    assert "本群已绑定「阳光花园」" in bound and bound.endswith(FOOTER)
    async with harness.db.read() as tx:
        (group,) = await tx.groups.active_for(site_id=s["site"].id)
    assert (group.kind, group.chat_id, group.title) == (
        GroupKind.TELEGRAM,
        GROUP_CHAT,
        "阳光花园项目群",
    )

    assert "只有本项目的经理" in await say_in_group(harness, 101, "unbind")
    assert "已解除与「阳光花园」的绑定" in await say_in_group(harness, 104, "unbind")
    async with harness.db.read() as tx:
        assert await tx.groups.active_for(site_id=s["site"].id) == []
    assert "尚未绑定" in await say_in_group(harness, 104, "unbind")


async def test_the_inspection_result_goes_to_the_groups_with_the_chart(harness: Harness) -> None:
    user, seeded = await inspector(harness)
    _, wecom = await groups(harness, seeded["site"].id)
    await begin(user)
    await answer_all(user)
    assert await group_rows(harness, Channel.TELEGRAM, GROUP_CHAT) == []  # no progress posts
    await user.tap("提交检查")
    for channel, chat_id in (
        (Channel.TELEGRAM, GROUP_CHAT),
        (Channel.WECOM_GROUP, f"g{wecom.id}"),
    ):
        (row,) = await group_rows(harness, channel, chat_id)
        assert row.kind is OutboxKind.SEND_PHOTO
        assert row.payload["report"] == 1 and row.payload["format"] == "png"  # the chart
        text = row.payload["text"]
        assert "<b>检查结果：阳光花园</b>" in text
        assert "总分 <b>49 / 58</b>（84.5%） 等级：<b>良好</b>" in text
        assert "发现问题 12 项：严重不合格 0，一般不合格 6，观察项 6" in text
        assert text.endswith(FOOTER)
        assert row.payload["buttons"] == []
    # The groups' charts and the inspector's files are one request: one model read for all.
    async with harness.db.read() as tx:
        payloads = (await tx.connection.execute(sa.select(outbox.c.payload))).scalars().all()
    asked = [p["asked"] for p in payloads if "report" in p]
    assert len(asked) == 5 and len(set(asked)) == 1


async def test_group_posts_are_a_setting_per_kind(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINJIAN_DATABASE_URL", harness.url)
    user, seeded = await inspector(harness)
    await groups(harness, seeded["site"].id)
    args = ["settings", "set", "group_posts.inspection_result", "false", "--site", "阳光花园"]
    assert await asyncio.to_thread(main, args) == 0
    await begin(user)
    await answer_all(user)
    await user.tap("提交检查")
    assert "总分 <b>49 / 58</b>" in user.chat.last.text
    assert await group_rows(harness, Channel.TELEGRAM, GROUP_CHAT) == []


async def bind_zhang(harness: Harness, s: dict[str, Any], channel: Channel) -> None:
    """张三 (the 责任人) bound on `channel`; on WeCom his UserID is zhangsan."""
    async with harness.db.transaction() as tx:
        zhang = s["people"]["张三"]
        external = "zhangsan" if channel is Channel.WECOM else "102"
        await tx.identities.bind(zhang.id, channel, external, chat_id=external)


async def test_a_serious_finding_goes_at_once_with_the_watermarked_photo(
    harness: Harness,
) -> None:
    user, s = await inspector(harness)
    _, wecom = await groups(harness, s["site"].id)
    await bind_zhang(harness, s, Channel.TELEGRAM)
    await begin(user)
    await user.photo(photo("2026:11:02 09:30:00"))
    await user.tap("0分")
    await user.tap("一般不合格")
    await user.press(user.chat.with_buttons().button("严重不合格"))
    await user.press(user.chat.with_buttons().button("确认创建"))
    album, text = await group_rows(harness, Channel.TELEGRAM, GROUP_CHAT)
    assert album.kind is OutboxKind.SEND_PHOTO and len(album.payload["photos"]) == 1
    # Sent as the stamped rendition of the finding's photo; the band is the finding's.
    (original,) = album.payload["stamped"]
    assert album.payload["photos"] != [original]
    async with harness.db.read() as tx:
        (task_id,) = (await tx.connection.execute(sa.select(tasks.c.id))).scalars()
        task = await tx.tasks.get(task_id)
        assert task is not None
        ((sha, band),) = await group_posts.finding_photos(tx, s["site"], task)
    assert sha == original
    assert band == "阳光花园 · 第 1 项 · 拍摄 2026-11-02 09:30 · 王检查"
    assert "<b>⚠️ 严重不合格：阳光花园</b>" in text.payload["text"]
    assert '责任人：<a href="tg://user?id=102">张三</a>' in text.payload["text"]
    assert text.payload["text"].endswith(FOOTER)
    # In the WeCom group 张三 has no WeCom binding and no mobile: named, not mentioned.
    _, wecom_text = await group_rows(harness, Channel.WECOM_GROUP, f"g{wecom.id}")
    assert "责任人：张三" in wecom_text.payload["text"]
    assert "mentioned_list" not in wecom_text.payload


async def test_a_general_finding_is_not_posted(harness: Harness) -> None:
    user, s = await inspector(harness)
    await groups(harness, s["site"].id)
    await begin(user)
    await user.tap("0分 不符合")
    await user.tap("确认创建")
    assert await group_rows(harness, Channel.TELEGRAM, GROUP_CHAT) == []


async def overdue_tasks(harness: Harness, s: dict[str, Any]) -> None:
    """Two overdue tasks of 张三, one of 李四, one not yet due, one of nobody."""
    site, people = s["site"], s["people"]
    async with harness.db.transaction() as tx:
        for finding, who, due in (
            ("消防通道堆物", "张三", date(2026, 10, 30)),
            ("垃圾未清", "张三", date(2026, 11, 1)),
            ("灯不亮", "李四", date(2026, 10, 20)),
            ("墙面污渍", "李四", date(2026, 11, 20)),
            ("无人认领", None, date(2026, 10, 31)),
        ):
            await tx.tasks.create(
                site.id,
                finding,
                created_by=people["王检查"].id,
                due_date=due,
                responsible_person_id=people[who].id if who else None,
                severity=Severity.GENERAL,
            )


async def test_the_daily_overdue_list_mentions_each_responsible_once_a_day(
    harness: Harness,
) -> None:
    s = await harness.seed()
    _, wecom = await groups(harness, s["site"].id)
    await bind_zhang(harness, s, Channel.TELEGRAM)
    await bind_zhang(harness, s, Channel.WECOM)
    async with harness.db.transaction() as tx:
        await tx.people.update(s["people"]["李四"].id, phone="13800000000")
    await overdue_tasks(harness, s)
    sweeper = GroupSweeper(harness.db, harness.clock)
    early = harness.clock() - timedelta(hours=1, minutes=30)  # 08:30 at the site
    assert (await sweeper.sweep(early)).overdue_posts == 0
    assert (await sweeper.sweep()).overdue_posts == 2  # 10:00: both groups
    assert (await sweeper.sweep()).overdue_posts == 0  # once a day

    (row,) = await group_rows(harness, Channel.TELEGRAM, GROUP_CHAT)
    text = row.payload["text"]
    assert "<b>逾期整改：阳光花园</b>（共 4 项）" in text
    assert '<a href="tg://user?id=102">张三</a>：' in text
    assert "李四：" in text and "未指定：" in text  # no Telegram binding: named
    assert text.index("消防通道堆物") < text.index("垃圾未清")
    assert "墙面污渍" not in text and "已逾期 13 天（2026-10-20）" in text
    assert text.endswith(FOOTER)

    (row,) = await group_rows(harness, Channel.WECOM_GROUP, f"g{wecom.id}")
    assert row.payload["mentioned_list"] == ["zhangsan"]
    assert row.payload["mentioned_mobile_list"] == ["13800000000"]
    assert "<a" not in row.payload["text"] and "张三：" in row.payload["text"]


async def test_no_overdue_list_when_nothing_is_overdue(harness: Harness) -> None:
    s = await harness.seed()
    await groups(harness, s["site"].id)
    assert (await GroupSweeper(harness.db, harness.clock).sweep()).overdue_posts == 0
    assert await group_rows(harness, Channel.TELEGRAM, GROUP_CHAT) == []


async def test_verified_fixes_go_out_batched_one_line_each(harness: Harness) -> None:
    s = await harness.seed()
    await groups(harness, s["site"].id)
    await overdue_tasks(harness, s)
    sweeper = GroupSweeper(harness.db, harness.clock)
    harness.clock.advance(minutes=1)
    async with harness.db.transaction() as tx:
        for task_id in (1, 3):
            task = await tx.tasks.get(task_id)
            assert task is not None
            task = await tx.tasks.transition(task_id, task.version, TaskStatus.REVIEW, actor_id=1)
            await tx.tasks.transition(task_id, task.version, TaskStatus.DONE, actor_id=1)
    assert (await sweeper.sweep()).fixes_posts == 0  # gathered for a few minutes first
    harness.clock.advance(minutes=5)
    assert (await sweeper.sweep()).fixes_posts == 2
    rows = await group_rows(harness, Channel.TELEGRAM, GROUP_CHAT)
    (row,) = [r for r in rows if "整改已通过复查" in r.payload["text"]]
    lines = [line for line in row.payload["text"].splitlines() if line.startswith("✅")]
    assert lines == ["✅ #1 消防通道堆物 · 张三", "✅ #3 灯不亮 · 李四"]
    harness.clock.advance(minutes=10)
    assert (await sweeper.sweep()).fixes_posts == 0  # each fix once
    assert row.payload["text"].endswith(FOOTER)


async def test_a_file_goes_to_the_region_group(harness: Harness) -> None:
    s = await harness.seed()
    async with harness.db.transaction() as tx:
        region = await tx.regions.create("华东")
        group = await tx.groups.add(GroupKind.WECOM, region_id=region.id, webhook_key="east")
    posted = await group_posts.post_file(
        harness.db, b"%PDF-1.4 bulletin", "11月通报.pdf", "华东区域 11 月品质通报", region_id=1
    )
    assert posted == 1
    (row,) = await group_rows(harness, Channel.WECOM_GROUP, f"g{group.id}")
    assert row.kind is OutboxKind.SEND_DOCUMENT
    assert row.payload["document_name"] == "11月通报.pdf"
    assert row.payload["text"] == f"华东区域 11 月品质通报\n{FOOTER}"
    assert await harness.files.get(row.payload["document"]) == b"%PDF-1.4 bulletin"
    assert s["site"].region_id is None  # a region group, not the site's


async def test_a_withdrawn_task_is_no_finding_of_the_posted_result(harness: Harness) -> None:
    s = await setup_task(harness)
    await groups(harness, s["site"].id)
    inspector = s["inspector"]
    await back_to_item_1(inspector)
    await inspector.tap("1分")
    await answer_all_from(inspector, 2)
    await inspector.tap("提交检查")
    (row,) = await group_rows(harness, Channel.TELEGRAM, GROUP_CHAT)
    assert "没有发现问题。" in row.payload["text"]
