"""The inspector's journey end to end: the real python-telegram-bot client and adapter against
the fake Bot API server on loopback, asserting what users see and what is stored."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from standards.loader import BUILTIN_DIR, load_file
from storage.records import Channel, InspectionStatus, Severity
from tests.core.test_capture_time import photo
from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser
from tests.telegram.botrunner import BotRunner

STANDARD = load_file(BUILTIN_DIR / "community-culture.yaml")
JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-bytes" * 50


async def bound_inspector(bot: BotRunner, fake: FakeTelegramAPI) -> tuple[FakeUser, Any]:
    seeded = await bot.seed()
    user = fake.user(5001, "王检查")
    await bot.act(user.send_command("start", seeded["codes"]["王检查"]))
    return user, seeded


def item_on_screen(bot: BotRunner, user: FakeUser) -> int:
    text = bot.keyboard(user.id).content or ""
    line = next(line for line in text.splitlines() if ". " in line and line[0].isdigit())
    return int(line.split(".", 1)[0])


async def test_commands_registered_and_invite_binds(bot: BotRunner, fake: FakeTelegramAPI) -> None:
    assert [c["command"] for c in fake.commands] == ["help"]
    user, _ = await bound_inspector(bot, fake)
    chat = {"type": "chat", "chat_id": user.id}
    commands = await fake.wait_for(lambda: fake.commands_for(chat))
    assert [c["command"] for c in commands] == [
        "inspect",
        "resume",
        "pause",
        "status",
        "tasks",
        "plans",
        "help",
    ]
    assert commands[0]["description"] == "开始检查"
    assert "欢迎，王检查！账号已绑定。" in (fake.last_message(user.id).content or "")
    async with bot.db.read() as tx:
        resolved = await tx.identities.resolve(Channel.TELEGRAM, str(user.id))
    assert resolved is not None
    assert resolved[1].name == "王检查"


async def test_stranger_gets_a_polite_refusal_and_no_data(
    bot: BotRunner, fake: FakeTelegramAPI
) -> None:
    await bot.seed()
    stranger = fake.user(6666, "Mallory")
    await bot.act(stranger.send_command("inspect"))
    await bot.act(stranger.send_photo(JPEG))
    await bot.act(stranger.send_command("start", "guessed-code"))
    texts = fake.texts(stranger.id)
    assert "还没有开通账号" in texts[0]
    assert "还没有开通账号" in texts[1]
    assert "邀请码无效" in texts[2]
    assert fake.downloads == []
    assert not list((bot.data_dir / "evidence").rglob("*")) or all(
        p.is_dir() for p in (bot.data_dir / "evidence").rglob("*")
    )


async def test_full_inspection_through_telegram(bot: BotRunner, fake: FakeTelegramAPI) -> None:
    user, seeded = await bound_inspector(bot, fake)
    manager = fake.user(5004, "赵经理")
    await bot.act(manager.send_command("start", seeded["codes"]["赵经理"]))
    await bot.act(user.send_command("inspect"))
    await bot.tap(user, "阳光花园")
    first = bot.keyboard(user.id)
    assert first.parse_mode == "HTML"
    assert "【一、客户管理】第 1/62 项" in (first.content or "")
    assert [t for t, _ in first.buttons()][:3] == ["1分 符合", "0.5分 部分符合", "0分 不符合"]
    assert all(len(d.encode()) <= 64 for _, d in first.buttons() if d)
    for item in STANDARD.items:
        assert item_on_screen(bot, user) == item.no
        if item.no in (3, 44):
            await bot.act(user.send_photo(JPEG + bytes([item.no])))
            await bot.tap(user, "备注")
            await bot.act(user.send_text(f"第{item.no}项：记录不全 <无签字> & 缺页"))
        if item.no in (10, 50):
            await bot.tap(user, "不适用")
        elif item.no in (3, 44):
            await bot.tap(user, "0.5分")
            await bot.tap(user, "确认创建")
        elif item.no == 21:
            await bot.tap(user, "0分")
            await bot.tap(user, "确认创建")
        else:
            await bot.tap(user, "1分")
    await bot.tap(user, "提交检查")
    completion = next(m for m in fake.messages(user.id) if "检查完成" in (m.content or ""))
    text = completion.content or ""
    assert "检查完成：阳光花园" in text
    assert "总分 58 / 60（96.7%） 等级：优秀" in text
    assert "<b>58 / 60</b>" in (completion.source or "")
    record = next(m for m in fake.messages(user.id) if (m.content or "").startswith("◐ 3."))
    assert record.content == "◐ 3. 0.5分 有回访制度 · 1📷 · 1📝"
    assert record.buttons() == []
    summary = next(
        m for m in fake.messages(user.id) if "章节小结：一、客户管理" in (m.content or "")
    )
    assert "第3项：记录不全 <无签字> & 缺页" in (summary.content or "")
    assert "&lt;无签字&gt; &amp;" in (summary.source or "")
    async with bot.db.read() as tx:
        inspection = await tx.inspections.get(1)
        assert inspection is not None
        assert inspection.status is InspectionStatus.COMPLETED
        assert (inspection.score, inspection.max_score) == (58, 60)
        tasks = await tx.tasks.for_inspection(1)
        assert sorted(t.item_no for t in tasks if t.item_no) == [3, 21, 44]
        assert {t.responsible_person_id for t in tasks} == {seeded["people"]["张三"].id}
        photos = await tx.evidence.for_inspection(1)
        assert len(photos) == 2
        stored = await bot.files.get(photos[0].sha256)
        assert stored == JPEG + bytes([3])
        assert photos[0].channel_file_ref
    assert any("章节小结：一、客户管理" in t for t in fake.texts(manager.id))
    assert any("检查完成：阳光花园" in t for t in fake.texts(manager.id))
    for chat in (user.id, manager.id):

        def files(chat: int = chat) -> list[str]:
            documents = fake.calls("sendDocument", ok=True)
            names = [
                c.files["document"].filename or "" for c in documents if c.params["chat_id"] == chat
            ]
            assert len(names) == 2
            return names

        names = await fake.wait_for(files, timeout=60)
        assert sorted(n.rsplit(".", 1)[1] for n in names) == ["pdf", "xlsx"]
        chart = [c for c in fake.calls("sendPhoto", ok=True) if c.params["chat_id"] == chat]
        assert chart[-1].files["photo"].data.startswith(b"\x89PNG")


async def test_back_jump_and_change_answer(bot: BotRunner, fake: FakeTelegramAPI) -> None:
    user, _ = await bound_inspector(bot, fake)
    await bot.act(user.send_command("inspect"))
    await bot.tap(user, "阳光花园")
    await bot.tap(user, "1分")
    await bot.tap(user, "上一项")
    assert item_on_screen(bot, user) == 1
    assert "当前：1分 符合" in (bot.keyboard(user.id).content or "")
    await bot.tap(user, "0.5分")
    setup = bot.keyboard(user.id)
    await bot.tap(user, "张三")
    not_modified = fake.calls("editMessageText", ok=False)
    assert not_modified[-1].error is not None and "not modified" in not_modified[-1].error
    assert bot.keyboard(user.id).message_id == setup.message_id
    await bot.tap(user, "确认创建")
    assert item_on_screen(bot, user) == 2
    await bot.tap(user, "目录")
    await bot.tap(user, "三、客户服务")
    await bot.tap(user, "40")
    assert item_on_screen(bot, user) == 40
    async with bot.db.read() as tx:
        history = await tx.answers.history(1, 1)
    assert [r.score for r in history] == [1, 0.5]


async def test_pause_restart_resume_loses_nothing(bot: BotRunner, fake: FakeTelegramAPI) -> None:
    user, _ = await bound_inspector(bot, fake)
    await bot.act(user.send_command("inspect"))
    await bot.tap(user, "阳光花园")
    for _ in range(5):
        await bot.tap(user, "1分")
    await bot.act(user.send_command("pause"))
    assert "已暂停" in (fake.last_message(user.id).content or "")
    await bot.stop()
    await bot.start()
    await bot.act(user.send_command("resume"))
    await bot.tap(user, "阳光花园")
    assert item_on_screen(bot, user) == 6
    async with bot.db.read() as tx:
        assert len(await tx.answers.for_inspection(1)) == 5


async def test_crash_before_delivery_sends_on_restart_exactly_once(
    bot: BotRunner, fake: FakeTelegramAPI
) -> None:
    user, _ = await bound_inspector(bot, fake)
    await bot.act(user.send_command("inspect"))
    await bot.tap(user, "阳光花园")
    await bot.stop()
    await bot.start(deliver=False)
    message = bot.keyboard(user.id)
    data = next(d for t, d in message.buttons() if t.startswith("1分") and d)
    update_id = await user.press(message, data)

    async def handled() -> bool:
        async with bot.db.read() as tx:
            return await tx.events.seen(f"telegram:u{update_id}")

    await fake.wait_for(handled)
    before = len(fake.messages(user.id))
    await bot.stop()
    assert len(fake.messages(user.id)) == before
    await bot.start()
    await fake.wait_for(lambda: bot.settled(update_id))
    texts = fake.texts(user.id)
    assert sum("第 2/62 项" in t for t in texts) == 1
    assert sum(t.startswith("✓ 1.") for t in texts) == 1


async def test_redelivered_update_changes_nothing(bot: BotRunner, fake: FakeTelegramAPI) -> None:
    user, _ = await bound_inspector(bot, fake)
    await bot.act(user.send_command("inspect"))
    await bot.tap(user, "阳光花园")
    update_id = await bot.tap(user, "1分")
    count = len(fake.messages(user.id))
    fake.redeliver(update_id)
    await fake.wait_for(lambda: fake.delivery_count(update_id) >= 2)
    sentinel = await bot.act(user.send_command("status"))
    assert sentinel > update_id
    assert len(fake.messages(user.id)) == count + 1
    async with bot.db.read() as tx:
        assert len(await tx.answers.history(1, 1)) == 1


async def test_stale_and_forged_buttons(bot: BotRunner, fake: FakeTelegramAPI) -> None:
    user, _ = await bound_inspector(bot, fake)
    await bot.act(user.send_command("inspect"))
    await bot.tap(user, "阳光花园")
    first = bot.keyboard(user.id)
    stale = next(d for t, d in first.buttons() if t.startswith("1分") and d)
    await bot.tap(user, "1分")
    await bot.act(user.press(first, stale, strict=False))
    await bot.act(user.press(first, "L:1:99:1:0", strict=False))
    await bot.act(user.press(first, "💥" * 16, strict=False))
    answers = [c.get("text") for c in fake.answered_callbacks]
    assert answers[-3:] == ["这个按钮已失效，请使用最新的消息。"] * 3
    async with bot.db.read() as tx:
        assert len(await tx.answers.for_inspection(1)) == 1


async def test_text_sticker_and_document_get_clear_answers(
    bot: BotRunner, fake: FakeTelegramAPI
) -> None:
    user, _ = await bound_inspector(bot, fake)
    await bot.act(user.send_command("inspect"))
    await bot.tap(user, "阳光花园")
    await bot.act(user.send_text("这里怎么填？"))
    assert any("请点按钮作答" in t for t in fake.texts(user.id)[-3:])
    assert item_on_screen(bot, user) == 1
    await bot.act(user.send_sticker())
    assert any("暂不支持这种消息" in t for t in fake.texts(user.id)[-4:])
    await bot.act(user.send_document(b"%PDF-1.4 ...", "合同.pdf", "application/pdf"))
    assert "合同.pdf 不是图片" in (fake.last_message(user.id).content or "")
    await bot.act(user.send_document(JPEG, "现场.jpg", "image/jpeg"))
    saved, again = fake.messages(user.id)[-2:]
    assert "照片已附在第 1 项" in (saved.content or "")
    assert again is bot.keyboard(user.id) and "已附：1张照片" in (again.content or "")
    await bot.act(user.send_document(JPEG, "huge.jpg", "image/jpeg", file_size=30 * 1_048_576))
    assert "文件太大（30.0 MB）" in (fake.last_message(user.id).content or "")
    async with bot.db.read() as tx:
        assert len(await tx.evidence.for_inspection(1)) == 1
        assert await tx.answers.for_inspection(1) == []


async def test_a_photo_sent_as_a_file_keeps_its_exif_capture_time(
    bot: BotRunner, fake: FakeTelegramAPI
) -> None:
    user, _ = await bound_inspector(bot, fake)
    await bot.act(user.send_command("inspect"))
    await bot.tap(user, "阳光花园")
    await bot.act(user.send_document(photo("2026:11:03 09:41:07"), "IMG_0001.jpg", "image/jpeg"))
    await bot.act(user.send_document(JPEG, "现场.jpg", "image/jpeg"))
    async with bot.db.read() as tx:
        kept = await tx.evidence.for_inspection(1)
    assert [e.taken_at for e in kept] == [datetime(2026, 11, 3, 9, 41, 7), None]


async def test_taps_as_fast_as_items_arrive_turn_each_answered_item_into_its_record(
    bot: BotRunner, fake: FakeTelegramAPI
) -> None:
    """An inspector who taps the moment the next item appears — before the bot has even
    recorded that the item's message went out — still sees each answered item edited in
    place into its one-line record, never a second message, and only the current item keeps
    its buttons."""
    user, _ = await bound_inspector(bot, fake)
    await bot.act(user.send_command("inspect"))
    menu = bot.keyboard(user.id)
    calls = fake.watch(user.id)
    await user.press(menu, next(d for t, d in menu.buttons() if d and "阳光花园" in t))
    answered = 0
    while answered < 12:
        call = await asyncio.wait_for(calls.get(), 10)
        if call.method != "sendMessage" or "reply_markup" not in call.params:
            continue
        item = fake.message(user.id, int(call.result["message_id"]))
        await user.press(item, next(d for t, d in item.buttons() if d and t.startswith("1分")))
        answered += 1

    def twelfth_recorded() -> bool:
        return any((m.content or "").startswith("✓ 12.") for m in fake.messages(user.id))

    await fake.wait_for(twelfth_recorded, timeout=10)
    await bot.delivered()
    shown = fake.messages(user.id)
    records = [m for m in shown if (m.content or "").startswith("✓")]
    assert [int((m.content or "").split()[1].rstrip(".")) for m in records] == list(range(1, 13))
    assert all(m.history for m in records)
    assert [m for m in shown if any(t.startswith("1分") for t, _ in m.buttons())] == [shown[-1]]


async def test_severity_chosen_in_the_task_set_up(bot: BotRunner, fake: FakeTelegramAPI) -> None:
    user, _ = await bound_inspector(bot, fake)
    await bot.act(user.send_command("inspect"))
    await bot.tap(user, "阳光花园")
    await bot.tap(user, "0分")
    setup = bot.keyboard(user.id)
    assert "严重程度：一般不合格" in (setup.content or "")
    await bot.tap(user, "严重不合格")
    edited = bot.keyboard(user.id)
    assert edited.message_id == setup.message_id
    assert "严重程度：严重不合格" in (edited.content or "")
    await bot.tap(user, "确认创建")
    async with bot.db.read() as tx:
        (task,) = await tx.tasks.for_inspection(1)
    assert task.severity is Severity.SERIOUS
    created = task.created_at.astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert (task.due_date - created).days == 3
