"""The 责任人's side of a rectification task end to end through the WeCom adapter: encrypted
callbacks in, the fake WeCom API out (member limit enforced). A task with the inspector's
photo, a fix that is sent back and then verified, reminders and an escalation on a moved
clock, an extension approved by the manager, and forged or stale card presses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.flows.reminder_sweep import ReminderSweeper
from bot.handlers.wecom.render import ZERO_WIDTH_SPACE
from storage.records import (
    Channel,
    EvidenceRole,
    ExtensionStatus,
    Person,
    Role,
    TaskEventKind,
    TaskStatus,
)
from tests.fakes.wecom_api import FakeWeComAPI
from tests.wecom.runner import Card, Member, WeComRunner

SHANGHAI = ZoneInfo("Asia/Shanghai")
BEFORE = b"\xff\xd8\xff\xe0" + b"before-photo" * 40
FIXED = b"\xff\xd8\xff\xe0" + b"after-photo-1" * 40
FIXED_AGAIN = b"\xff\xd8\xff\xe0" + b"after-photo-2" * 40
PHOTOS = {BEFORE: "整改前", FIXED: "整改后1", FIXED_AGAIN: "整改后2"}
TASK_BUTTONS = "[已整改，上传照片 | 申请延期 | 查看详情]"


@dataclass
class Scene:
    inspector: Member
    zhang: Member
    manager: Member
    people: dict[str, Person]


async def assign_tasks(bot: WeComRunner, items: int = 1) -> Scene:
    """王检查 finds items 1…items lacking (a photo on item 1) and confirms a task for 张三
    (the default 责任人, bound by WeCom user id) on each; due 2026-11-09."""
    seeded = await bot.seed()
    inspector = bot.member("wangjiancha")
    await inspector.text("/inspect")
    await inspector.tap("阳光花园")
    await inspector.image(BEFORE)
    for _ in range(items):
        await inspector.tap("0分")
        await inspector.tap("✅ 确认创建")
    return Scene(inspector, bot.member("zhangsan"), bot.member("zhaojingli"), seeded["people"])


def seen(bot: WeComRunner, member: Member) -> list[str]:
    """The member's chat, one line a message: a photo by what it shows, a text by its first
    line, a card by its title and its live buttons."""
    lines: list[str] = []
    for message in member.chat():
        sent = message.sent
        if sent.msgtype == "image":
            media = bot.fake.media[sent.body["image"]["media_id"]]
            lines.append(f"[照片 {PHOTOS[bytes(media.data)]}]")
        elif message.card is not None:
            buttons = " | ".join(label for label, _ in message.card.buttons)
            lines.append(f"{message.card.title} [{buttons}]" if buttons else message.card.title)
        else:
            lines.append(message.text.split("\n")[0])
    return lines


def card_with(member: Member, text: str) -> Card:
    """The newest card showing ``text`` (live or not)."""
    for message in reversed(member.chat()):
        if message.card is not None and text in message.card.text:
            return message.card
    raise AssertionError(f"no card with {text!r} in {member.userid}'s chat")


def key_of(card: Card, label: str) -> str:
    return next(str(b["key"]) for b in card.body["button_list"] if b["text"].startswith(label))


async def fix(member: Member, card: Card, photo: bytes) -> str:
    """已整改 on the task card, the after-photo, 提交复查; returns the photo's media id."""
    await member.press(card, key_of(card, "已整改"))
    media_id = await member.image(photo)
    await member.tap("提交复查")
    return media_id


async def history(bot: WeComRunner, task_id: int = 1) -> list[tuple[Any, ...]]:
    async with bot.db.read() as tx:
        events = await tx.tasks.events(task_id)
    return [(e.kind, e.from_status, e.to_status, e.actor_id, e.reason) for e in events]


async def test_fix_sent_back_then_verified(bot: WeComRunner, fake: FakeWeComAPI) -> None:
    s = await assign_tasks(bot)
    inspector, zhang = s.inspector, s.zhang
    # 张三 gets the inspector's photo (uploaded with media/upload) and the task card.
    assert seen(bot, zhang) == ["[照片 整改前]", f"新的整改任务 {TASK_BUTTONS}"]
    task_card = card_with(zhang, "新的整改任务")
    assert task_card.body["sub_title_text"].splitlines()[:2] == [
        "整改任务 #1　待整改　一般不合格",
        "项目：阳光花园",
    ]
    assert "达标时间：2026-11-09" in task_card.text
    assert "照片：整改前 1 张" in task_card.text
    assert fake.calls.count("/cgi-bin/media/upload") == 1

    fixed_media = await fix(zhang, task_card, FIXED)
    assert seen(bot, zhang)[2:] == [
        "整改任务 #1 · 提交整改 [提交复查]",
        "📷 已收到整改照片（共 1 张）。继续发送，或点「提交复查」。 [提交复查]",
        "✅ 整改任务 #1 已提交复查，等待 王检查 确认。",
    ]
    # The inspector gets the before and after photos and the review card.
    assert seen(bot, inspector)[-5:] == [
        "[照片 整改前]",
        "整改前（1 张）",
        "[照片 整改后1]",
        "整改后（1 张）",
        "整改待复查 #1 [✅ 通过 | ↩ 退回]",
    ]
    assert "整改前 1 张，整改后 1 张" in card_with(inspector, "整改待复查").text

    await inspector.tap("↩ 退回")
    await inspector.text("照片看不清公示内容")
    assert seen(bot, inspector)[-2:] == [
        "请输入退回整改任务 #1 的原因（直接发送文字）：",
        "已退回整改任务 #1，已通知责任人。",
    ]
    back = zhang.chat()[-1]
    assert back.card is not None
    assert back.card.title == "↩ 整改任务 #1 被退回（王检查）。原因：照片看不清公示内容"

    fixed_again_media = await fix(zhang, back.card, FIXED_AGAIN)
    assert seen(bot, inspector)[-6:] == [
        "[照片 整改前]",
        "整改前（1 张）",
        "[照片 整改后1]",
        "[照片 整改后2]",
        "整改后（2 张）",
        "整改待复查 #1 [✅ 通过 | ↩ 退回]",
    ]
    assert "整改前 1 张，整改后 2 张" in card_with(inspector, "整改待复查").text
    await inspector.tap("✅ 通过")
    assert seen(bot, inspector)[-1] == "已确认通过：整改任务 #1 已完成。"

    # 张三's whole chat: the task once, every step, and the verdicts.
    assert seen(bot, zhang) == [
        "[照片 整改前]",
        f"新的整改任务 {TASK_BUTTONS}",
        "整改任务 #1 · 提交整改 [提交复查]",
        "📷 已收到整改照片（共 1 张）。继续发送，或点「提交复查」。 [提交复查]",
        "✅ 整改任务 #1 已提交复查，等待 王检查 确认。",
        f"↩ 整改任务 #1 被退回（王检查）。原因：照片看不清公示内容 {TASK_BUTTONS}",
        "整改任务 #1 · 提交整改 [提交复查]",
        "📷 已收到整改照片（共 2 张）。继续发送，或点「提交复查」。 [提交复查]",
        "✅ 整改任务 #1 已提交复查，等待 王检查 确认。",
        "🎉 整改任务 #1 已通过复查（王检查），状态：已完成。谢谢！",
    ]
    assert seen(bot, s.manager) == []  # the inspector verifies; the manager is not bothered
    # Each photo was fetched once with media/get (the inspector's, two after-photos) and
    # uploaded once for sending.
    assert fake.calls.count("/cgi-bin/media/get") == 3
    assert fake.calls.count("/cgi-bin/media/upload") == 3
    assert await bot.dead_or_pending() == 0

    wang, zhang_id = s.people["王检查"].id, s.people["张三"].id
    async with bot.db.read() as tx:
        task = await tx.tasks.get(1)
        after = await tx.evidence.for_task(1, role=EvidenceRole.FIX)
    assert task is not None and task.status is TaskStatus.DONE and task.closed_at is not None
    assert [(e.channel, e.channel_file_ref) for e in after] == [
        (Channel.WECOM, fixed_media),
        (Channel.WECOM, fixed_again_media),
    ]
    assert [await bot.files.get(e.sha256) for e in after] == [FIXED, FIXED_AGAIN]
    open_, review, done = TaskStatus.OPEN, TaskStatus.REVIEW, TaskStatus.DONE
    status = TaskEventKind.STATUS
    assert await history(bot) == [
        (TaskEventKind.CREATED, None, open_, wang, None),
        (status, open_, review, zhang_id, None),
        (status, review, open_, wang, "照片看不清公示内容"),
        (status, open_, review, zhang_id, None),
        (status, review, done, wang, None),
    ]


ITEMS = {1: "根据物业管理方案制作精神文明建…", 2: "服务与被服务双方签订规范的物业…"}
"""Items 1 and 2 as task lists, reminders and escalations name them (shortened for a phone)."""


def reminder(when: str, *tasks: int) -> str:
    """张三's combined reminder (markdown) for tasks #n on item n."""
    rows = "".join(f"· #{n} 阳光花园 第{n}项 {ITEMS[n]} — {when}\n" for n in tasks)
    return (
        f"⏰ **整改提醒**　张三，您有 {len(tasks)} 项整改任务需要处理：\n"
        f"{rows}发送“任务”或 /tasks 查看并处理。"
    )


def escalation(days: int, *tasks: int) -> str:
    """The site manager's 逾期督办 (the first rung of the ladder) for tasks #n on item n."""
    rows = "".join(
        f"· #{n} 阳光花园 第{n}项 {ITEMS[n]} · 责任人 张三 · 已逾期 {days} 天 · 督办至项目\n"
        for n in tasks
    )
    return (
        f"🚨 **逾期督办**　以下整改任务已逾期未完成：\n{rows}"
        "发送“逾期”或 /overdue 查看全部逾期任务。"
    )


async def test_reminders_combine_escalate_and_stop_when_done(bot: WeComRunner) -> None:
    s = await assign_tasks(bot, items=2)
    zhang, manager = s.zhang, s.manager
    sweeper = ReminderSweeper(bot.db, bot.clock.utc)

    async def morning(day: int, *, hour: int = 9) -> tuple[list[str], list[str]]:
        """Sweep at 2026-11-<day> <hour>:00 site time; what 张三 and the manager got."""
        old_zhang, old_manager = len(zhang.chat()), len(manager.chat())
        bot.clock.now = datetime(2026, 11, day, hour, tzinfo=SHANGHAI).timestamp()
        await sweeper.sweep()
        await bot.settle()
        new_zhang, new_manager = zhang.chat()[old_zhang:], manager.chat()[old_manager:]
        return [m.text for m in new_zhang], [m.text for m in new_manager]

    assert await morning(6, hour=8) == ([], [])
    assert await morning(6) == ([reminder("还有 3 天到期（11-09）", 1, 2)], [])
    assert await morning(7) == ([], [])
    assert await morning(8) == ([reminder("明天到期（11-09）", 1, 2)], [])
    assert await morning(9) == ([reminder("今天到期（11-09）", 1, 2)], [])
    # A day overdue 张三 is reminded and the site's manager told, once (the ladder's first
    # rung; the site has no region and the company no manager for the rungs above).
    assert await morning(10) == ([reminder("已逾期 1 天（11-09）", 1, 2)], [escalation(1, 1, 2)])
    assert await morning(11) == ([reminder("已逾期 2 天（11-09）", 1, 2)], [])

    # Task #1 is fixed and verified: from then on only #2 is reminded.
    await fix(zhang, card_with(zhang, "整改任务 #1"), FIXED)
    await s.inspector.tap("✅ 通过")
    assert await morning(12) == ([reminder("已逾期 3 天（11-09）", 2)], [])
    for day in range(13, 18):
        assert (await morning(day))[1] == []
    assert await morning(18) == ([reminder("已逾期 9 天（11-09）", 2)], [])
    async with bot.db.read() as tx:
        done = await tx.reminders.for_task(1)
        first_kinds = [e.kind for e in await tx.tasks.events(1)]
    assert all(r.sent_at is not None or r.cancelled_at is not None for r in done)
    assert first_kinds.count(TaskEventKind.REMINDER_SENT) == 5
    assert first_kinds.count(TaskEventKind.ESCALATED) == 1
    assert await bot.dead_or_pending() == 0


async def test_extension_approved_by_the_manager(bot: WeComRunner) -> None:
    s = await assign_tasks(bot)
    zhang, manager = s.zhang, s.manager
    await zhang.tap("申请延期")
    assert seen(bot, zhang)[-1] == "申请延期 · 整改任务 #1 [+3天 | +7天 | +15天]"
    await zhang.tap("+7天")
    assert seen(bot, zhang)[-1] == "新的达标时间：2026-11-16。请输入延期原因（直接发送文字）："
    await zhang.text("需要等供应商到货")
    assert seen(bot, zhang)[-1] == "已提交延期申请（整改任务 #1 → 2026-11-16），等待项目经理审批。"

    request = card_with(manager, "延期申请 · 整改任务 #1")
    assert seen(bot, manager) == ["延期申请 · 整改任务 #1 [批准 | 驳回]"]
    assert "达标时间：2026-11-09 → 2026-11-16" in request.text
    assert "原因：需要等供应商到货" in request.text
    # The manager sees what is to be fixed before deciding.
    assert "第 1 项：根据物业管理方案制作精神文明建设方案和实施计划" in request.text
    assert "检查结果：0分 不符合" in request.text
    assert "问题：未达标：应「符合」，评为「不符合」（0/1分）" in request.text
    await manager.tap("批准")
    assert seen(bot, manager)[-1] == "已批准整改任务 #1 的延期申请，已通知责任人。"
    assert seen(bot, zhang)[-3:] == [
        "✅ 延期申请已批准（赵经理）：整改任务 #1 的达标时间改为 2026-11-16。",
        "[照片 整改前]",
        f"达标时间已更新 {TASK_BUTTONS}",
    ]
    assert "达标时间：2026-11-16" in card_with(zhang, "达标时间已更新").text
    # The request card was decided: pressing 驳回 on it now changes nothing.
    await manager.press(request, key_of(request, "驳回"))
    assert seen(bot, manager)[-1] == "这个按钮已失效，请使用最新的消息。"

    async with bot.db.read() as tx:
        task = await tx.tasks.get(1)
        (extension,) = await tx.tasks.extensions(1)
    assert task is not None and task.due_date == date(2026, 11, 16)
    assert extension.status is ExtensionStatus.APPROVED
    assert extension.decided_by == s.people["赵经理"].id
    kinds = [(kind, actor) for kind, _, _, actor, _ in await history(bot)]
    assert kinds[-2:] == [
        (TaskEventKind.EXTENSION_REQUESTED, s.people["张三"].id),
        (TaskEventKind.EXTENSION_APPROVED, s.people["赵经理"].id),
    ]
    # The reminders moved with the date.
    sweeper = ReminderSweeper(bot.db, bot.clock.utc)
    old = await sweeper.preview(datetime(2026, 11, 6, 9, tzinfo=SHANGHAI))
    new = await sweeper.preview(datetime(2026, 11, 13, 9, tzinfo=SHANGHAI))
    assert old.messages == {}
    assert new.messages == {s.people["张三"].id: ["#1 还有 3 天到期（11-16）"]}


async def snapshot(bot: WeComRunner) -> list[Any]:
    async with bot.db.read() as tx:
        tasks = [await tx.tasks.get(t) for t in (1, 2)]
        return [
            tasks,
            [await tx.tasks.events(t) for t in (1, 2)],
            [await tx.tasks.extensions(t) for t in (1, 2)],
            [await tx.evidence.for_task(t) for t in (1, 2)],
        ]


async def test_forged_and_stale_presses_change_nothing(bot: WeComRunner) -> None:
    s = await assign_tasks(bot)
    zhang, manager, inspector = s.zhang, s.manager, s.inspector
    async with bot.db.transaction() as tx:
        # 李四 is on WeCom too; 翠湖苑 (not 赵经理's) has a task with a pending extension.
        await tx.identities.bind(s.people["李四"].id, Channel.WECOM, "lisi", chat_id="lisi")
        other = await tx.sites.create("翠湖苑", timezone="Asia/Shanghai")
        sun = await tx.people.create("孙五")
        await tx.roles.grant(sun.id, other.id, Role.RESPONSIBLE)
        elsewhere = await tx.tasks.create(
            other.id,
            "楼道堆物",
            created_by=None,
            due_date=date(2026, 11, 9),
            responsible_person_id=sun.id,
        )
        pending = await tx.tasks.request_extension(
            elsewhere.id, sun.id, date(2027, 1, 1), reason="等物业费"
        )
    li = bot.member("lisi")
    task_card = card_with(zhang, "新的整改任务")
    unchanged = await snapshot(bot)
    zhang_before = seen(bot, zhang)

    denied = "您没有权限进行这个操作。"
    stale = "这个按钮已失效，请使用最新的消息。"
    # Another member presses 张三's buttons, or makes up the inspector's.
    await li.press(task_card, key_of(task_card, "已整改"))
    await li.press(task_card, key_of(task_card, "申请延期"))
    await li.press(Card("pj999-forged-0", {}), "K:OK:1:1")
    assert seen(bot, li) == [denied, denied, denied]
    # The manager of 阳光花园 forges a decision on a request of another site's task, or on
    # one that does not exist; and presses 张三's button.
    await manager.press(Card("pj999-forged-1", {}), f"K:EA:1:1:{pending.id}")
    await manager.press(Card("pj999-forged-2", {}), "K:ER:1:1:999")
    await manager.press(task_card, key_of(task_card, "已整改"))
    assert seen(bot, manager) == [stale, stale, denied]
    # 张三 himself with made-up keys: an old version, an unknown action or task, no format.
    for key in ("K:F:1:7", "K:ZZ:1:1", "K:F:999:1", "K:F:x:1", "我要整改", ""):
        await zhang.press(task_card, key)
    assert seen(bot, zhang) == [*zhang_before, *[stale] * 6]
    assert await snapshot(bot) == unchanged

    # The task is done: its old buttons are dead for everyone.
    await fix(zhang, task_card, FIXED)
    review = card_with(inspector, "整改待复查")
    await inspector.tap("✅ 通过")
    unchanged = await snapshot(bot)
    zhang_before, inspector_before = seen(bot, zhang), seen(bot, inspector)
    await zhang.press(task_card, key_of(task_card, "已整改"))
    await zhang.press(task_card, key_of(task_card, "申请延期"))
    await inspector.press(review, key_of(review, "↩ 退回"))
    await inspector.press(review, key_of(review, "✅ 通过"))
    closed = "这个整改任务已完成，按钮不再有效。"
    assert seen(bot, zhang) == [*zhang_before, closed, closed]
    assert seen(bot, inspector) == [*inspector_before, closed, closed]
    assert await snapshot(bot) == unchanged
    async with bot.db.read() as tx:
        task = await tx.tasks.get(1)
        (request,) = await tx.tasks.extensions(elsewhere.id)
    assert task is not None and task.status is TaskStatus.DONE
    assert request.status is ExtensionStatus.PENDING
    assert await bot.dead_or_pending() == 0


async def test_typed_markdown_reaches_everyone_as_typed(
    bot: WeComRunner, fake: FakeWeComAPI
) -> None:
    """A note written as WeCom markdown (a link, a <font>, bold) is the task's finding: the
    责任人's task and every other message carrying it show it as typed, never as markdown."""
    phish = (
        "详见[整改通知（点击登录）](http://phish.example/login) "
        '<font color="warning">**紧急**</font>'
    )
    await bot.seed()
    inspector = bot.member("wangjiancha")
    await inspector.text("/inspect")
    await inspector.tap("阳光花园")
    await inspector.image(BEFORE)
    await inspector.tap("📝 备注")
    await inspector.text(phish)
    await inspector.tap("0分")
    await inspector.tap("✅ 确认创建")
    carrying = [m for m in fake.sent_to("zhangsan") if "phish.example" in (m.content or "")]
    assert carrying, [m.content for m in fake.sent_to("zhangsan")]
    for message in carrying:
        assert message.msgtype == "text"
        assert f"问题：{phish}" in (message.content or "").replace(ZERO_WIDTH_SPACE, "")
        assert "<font" not in (message.content or "")
    for userid in ("wangjiancha", "zhangsan", "zhaojingli"):
        for message in fake.sent_to(userid):
            if message.msgtype == "markdown":
                assert "phish.example" not in (message.content or "")
                assert "<font" not in (message.content or "")


async def test_details_show_the_photos_before_and_after(bot: WeComRunner) -> None:
    """查看详情 (the 责任人's button, an inspector's task list) sends the task's photos first,
    captioned 整改前 / 整改后."""
    s = await assign_tasks(bot)
    zhang, inspector = s.zhang, s.inspector
    await zhang.tap("查看详情")
    assert seen(bot, zhang)[2:] == [
        "[照片 整改前]",
        "整改任务 #1 · 整改前照片 1 张",
        f"整改任务 #1　待整改　一般不合格 {TASK_BUTTONS}",
    ]
    await fix(zhang, card_with(zhang, "新的整改任务"), FIXED)
    await inspector.text("任务")
    await inspector.tap("#1")
    assert seen(bot, inspector)[-6:-2] == [
        "[照片 整改前]",
        "整改任务 #1 · 整改前照片 1 张",
        "[照片 整改后1]",
        "整改任务 #1 · 整改后照片 1 张",
    ]
