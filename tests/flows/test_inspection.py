"""The inspector's journey through the channel-neutral flows (no chat library involved)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.findings import MAX_FINDING
from standards.loader import BUILTIN_DIR, load_file
from storage.records import Channel, InspectionStatus, TaskStatus
from tests.core.test_capture_time import photo
from tests.flows.harness import Harness, User

STANDARD = load_file(BUILTIN_DIR / "community-culture.yaml")
NOT_APPLICABLE = {15, 30, 45, 60}
HALF = {3, 13, 23, 33, 43, 53}
ZERO = {7, 17, 27, 37, 47, 57}
PHOTO_ITEMS = {3, 7, 20}
NOTE_ITEMS = {7, 13}


async def inspector(harness: Harness) -> tuple[User, dict[str, Any]]:
    seeded = await harness.seed()
    user = harness.user(101)
    await user.command("start", seeded["codes"]["王检查"])
    return user, seeded


async def begin(user: User) -> None:
    await user.command("inspect")
    await user.tap("阳光花园")


def current_item(user: User) -> int:
    text = user.chat.with_buttons().text
    line = next(line for line in text.splitlines() if line.startswith("<b>") and ". " in line)
    return int(line[3:].split(".", 1)[0])


async def answer_all(user: User) -> None:
    for item in STANDARD.items:
        assert current_item(user) == item.no, user.chat.last.text
        if item.no in PHOTO_ITEMS:
            await user.photo(f"photo-{item.no}".encode())
        if item.no in NOTE_ITEMS:
            await user.tap("备注")
            await user.text(f"第{item.no}项现场发现问题")
        if item.no in NOT_APPLICABLE:
            await user.tap("不适用")
        elif item.no in HALF:
            await user.tap(f"0.5分 {item.levels[1].label}")
            await user.tap("确认创建")
        elif item.no in ZERO:
            await user.tap(f"0分 {item.levels[-1].label}")
            await user.tap("确认创建")
        else:
            await user.tap(f"1分 {item.levels[0].label}")


async def test_full_inspection_scores_tasks_and_summaries(harness: Harness) -> None:
    user, seeded = await inspector(harness)
    await begin(user)
    overview = user.chat.messages[-2].text
    assert "物业服务品质检查标准——社区文化管理" in overview and "共 62 项" in overview
    first = user.chat.last
    assert "【一、客户管理】第 1/62 项" in first.text
    assert first.labels[:3] == ["1分 符合", "0.5分 部分符合", "0分 不符合"]
    assert {"不适用", "📷 照片", "📝 备注", "⬅ 上一项", "☰ 目录"} <= set(first.labels)
    await answer_all(user)
    assert "全部 62 项都已作答" in user.chat.last.text
    await user.tap("提交检查")
    submitted = next(m for m in user.chat.messages if m.text == "✅ 全部 62 项已提交。")
    assert submitted.buttons == []
    completion = user.chat.last.text
    assert "总分 <b>49 / 58</b>（84.5%）" in completion
    assert "良好" in completion
    assert "不适用 4 项" in completion
    assert "整改任务 12 项" in completion
    summaries = [t for t in user.chat.texts() if t.startswith("<b>章节小结")]
    assert len(summaries) == 5
    assert "一、客户管理" in summaries[0] and "得分 18.5 / 22（84.1%）" in summaries[0]
    first_record = next(m.text for m in user.chat.messages if m.text.startswith("✓ 1."))
    assert first_record == "✓ 1. 1分 符合"
    third = next(m.text for m in user.chat.messages if m.text.startswith("◐ 3."))
    assert third == "◐ 3. 0.5分 有回访制度 · 1📷", "a partial score is not marked ✗"
    async with harness.db.read() as tx:
        inspections = await tx.inspections.open_for_inspector(seeded["people"]["王检查"].id)
        assert inspections == []
        done = await tx.inspections.get(1)
        assert done is not None and done.status is InspectionStatus.COMPLETED
        assert (done.score, done.max_score) == (49, 58)
        answers = await tx.answers.for_inspection(1)
        assert len(answers) == 62
        assert sum(1 for a in answers if a.not_applicable) == 4
        tasks = await tx.tasks.for_inspection(1)
        assert sorted(t.item_no for t in tasks if t.item_no) == sorted(HALF | ZERO)
        assert all(t.status is TaskStatus.OPEN for t in tasks)
        assert {t.responsible_person_id for t in tasks} == {seeded["people"]["张三"].id}
        task7 = next(t for t in tasks if t.item_no == 7)
        assert task7.finding == "第7项现场发现问题"
        assert str(task7.due_date) == "2026-11-09"
        evidence = await tx.evidence.for_inspection(1)
        assert sorted(e.item_no for e in evidence if e.item_no) == sorted(PHOTO_ITEMS)


async def test_the_item_is_shown_again_below_a_photo_or_note(harness: Harness) -> None:
    """A photo or note pushes the item up; the item comes again below the confirmation, so its
    score buttons are at hand, and the message above keeps no live buttons."""
    user, _ = await inspector(harness)
    await begin(user)
    first = user.chat.last
    await user.photo(b"site-photo")
    assert "照片已附在第 1 项（共 1 张）" in user.chat.messages[-2].text
    again = user.chat.last
    assert "第 1/62 项" in again.text and "已附：1张照片" in again.text
    assert again.labels[:3] == ["1分 符合", "0.5分 部分符合", "0分 不符合"]
    assert first.buttons == [] and "（未作答）" in first.text
    await user.tap("备注")
    await user.text("消防通道有杂物")
    assert "已为第 1 项保存备注" in user.chat.messages[-2].text
    assert "已附：1张照片，1条备注" in user.chat.last.text
    assert [m for m in user.chat.messages if "1分 符合" in m.labels] == [user.chat.last]
    await user.tap("1分 符合")
    assert "第 2/62 项" in user.chat.last.text
    await user.tap("上一项")
    assert "\n当前：1分 符合\n已附：1张照片，1条备注" in user.chat.last.text  # two lines
    async with harness.db.read() as tx:
        assert len(await tx.evidence.for_item(1, 1)) == 1
        assert [n.text for n in await tx.notes.for_item(1, 1)] == ["消防通道有杂物"]


async def test_a_photo_keeps_its_exif_capture_time_or_none(harness: Harness) -> None:
    """A file with EXIF keeps the camera's time; a recompressed one (no EXIF) is 无拍摄时间."""
    user, _ = await inspector(harness)
    await begin(user)
    await user.photo(photo("2026:11:03 09:41:07"))
    await user.photo(photo())
    async with harness.db.read() as tx:
        kept = await tx.evidence.for_item(1, 1)
    assert [e.taken_at for e in kept] == [datetime(2026, 11, 3, 9, 41, 7), None]


async def test_the_task_set_up_is_shown_again_below_a_photo(harness: Harness) -> None:
    user, seeded = await inspector(harness)
    await begin(user)
    await user.tap("0分 不符合")
    await user.tap("李四")
    await user.tap("+15天")
    setup = user.chat.last
    await user.photo(b"defect")
    assert "照片已附在第 1 项（共 1 张）" in user.chat.messages[-2].text
    again = user.chat.last
    assert "整改任务 · 第 1 项" in again.text and "责任人：<b>李四</b>" in again.text
    assert "达标时间：<b>2026-11-17</b>" in again.text  # the choices made are kept
    assert "✅ 确认创建" in again.labels
    assert setup.buttons == [] and setup.text == "✗ 1. 0分 不符合 · 1📷"
    await user.tap("确认创建")
    assert current_item(user) == 2
    async with harness.db.read() as tx:
        (task,) = await tx.tasks.for_inspection(1)
        assert task.responsible_person_id == seeded["people"]["李四"].id
        assert str(task.due_date) == "2026-11-17"


async def test_task_setup_choices_typed_date_and_name(harness: Harness) -> None:
    user, seeded = await inspector(harness)
    await begin(user)
    await user.tap("0分 不符合")
    setup = user.chat.last
    assert "整改任务 · 第 1 项" in setup.text and "责任人：<b>张三</b>" in setup.text
    await user.tap("李四")
    assert "责任人：<b>李四</b>" in user.chat.last.text
    await user.tap("+15天")
    assert "达标时间：<b>2026-11-17</b>" in user.chat.last.text
    await user.text("2020-01-01")
    assert "已经过去" in user.chat.last.text
    await user.text("12月5日")
    assert "达标时间：<b>2026-12-05</b>" in user.chat.with_buttons().text
    await user.text("王五")
    assert "没有找到名为「王五」的责任人" in user.chat.messages[-2].text
    await user.text("张三")
    await user.tap("备注")
    await user.text("周五前完成 <script>")
    setup = user.chat.with_buttons()
    assert "备注：周五前完成 &lt;script&gt;" in setup.text
    await user.tap("确认创建")
    assert "【一、客户管理】第 2/62 项" in user.chat.last.text
    async with harness.db.read() as tx:
        (task,) = await tx.tasks.for_inspection(1)
        assert task.responsible_person_id == seeded["people"]["张三"].id
        assert str(task.due_date) == "2026-12-05"
        assert task.remark == "周五前完成 <script>"


async def test_back_jump_and_changed_answer_keeps_history(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    await user.tap("1分 符合")
    await user.tap("1分")
    assert current_item(user) == 3
    await user.tap("上一项")
    assert current_item(user) == 2
    await user.tap("不适用")
    assert current_item(user) == 3
    await user.tap("目录")
    await user.tap("五、宠物管理")
    await user.tap("60")
    assert current_item(user) == 60
    await user.tap("1分 符合")
    assert current_item(user) == 61
    await user.tap("目录")
    await user.tap("一、客户管理")
    await user.tap("✓1")
    assert "当前：1分 符合" in user.chat.last.text
    await user.tap("0.5分 部分符合")
    await user.tap("确认创建")
    async with harness.db.read() as tx:
        history = await tx.answers.history(1, 1)
        assert [(r.score, r.level_label) for r in history] == [(1, "符合"), (0.5, "部分符合")]
        second = await tx.answers.get(1, 2)
        assert second is not None and second.not_applicable
        assert [r.not_applicable for r in await tx.answers.history(1, 2)] == [False, True]


async def test_pause_and_resume_at_first_unanswered(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    for _ in range(3):
        await user.tap("1分")
    await user.command("pause")
    assert "已暂停" in user.chat.last.text and "3/62" in user.chat.last.text
    async with harness.db.read() as tx:
        inspection = await tx.inspections.get(1)
        assert inspection is not None and inspection.status is InspectionStatus.PAUSED
    await user.command("resume")
    await user.tap("阳光花园 · 3/62")
    assert current_item(user) == 4
    web = harness.user(101)
    assert web.chat is user.chat


async def test_a_section_is_summarised_once_whichever_chat_completes_it_again(
    harness: Harness,
) -> None:
    user, seeded = await inspector(harness)
    manager = harness.user(301)
    await manager.command("start", seeded["codes"]["赵经理"])
    await begin(user)
    for _ in STANDARD.sections[0].items:
        await user.tap("1分")
    summaries = [t for t in user.chat.texts() if t.startswith("<b>章节小结")]
    assert len(summaries) == 1 and "一、客户管理" in summaries[0]
    async with harness.db.transaction() as tx:
        wang = seeded["people"]["王检查"].id
        await tx.identities.bind(wang, Channel.WEB, "web-wang", chat_id="web-wang")
    web = User(harness, "web-wang", Channel.WEB)
    await web.command("resume")
    await web.tap("阳光花园")
    await web.tap("上一项")
    last = STANDARD.sections[0].items[-1].no
    assert current_item(web) == last
    await web.tap("1分")
    assert current_item(web) == last + 1
    assert not [t for t in web.chat.texts() if "章节小结" in t]
    assert len([t for t in manager.chat.texts() if "章节小结" in t]) == 1


async def test_resume_reopens_a_task_left_unfinished(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    await user.tap("0分")
    await user.command("pause")
    await user.command("resume")
    await user.tap("阳光花园")
    assert "整改任务 · 第 1 项" in user.chat.last.text


async def test_redelivered_event_changes_nothing(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    payload = user.chat.with_buttons().button("1分")
    await user.press(payload, key="same-key")
    count = len(user.chat.messages)
    await user.press(payload, key="same-key")
    assert len(user.chat.messages) == count
    async with harness.db.read() as tx:
        assert len(await tx.answers.history(1, 1)) == 1


async def test_stale_and_forged_buttons_change_nothing(harness: Harness) -> None:
    user, seeded = await inspector(harness)
    await begin(user)
    old = user.chat.with_buttons().button("1分")
    await user.tap("1分")
    await user.press(old)
    assert user.chat.toasts[-1] == ("这个按钮已失效，请使用最新的消息。", True)
    for forged in ("L:999:1:1:0", "zzz", "L:x:y", "S:1:2", "", "L:3:1:2:" + "9" * 40):
        await user.press(forged)
        assert "失效" in user.chat.toasts[-1][0] or "权限" in user.chat.toasts[-1][0]
    other = harness.user(202)
    await other.command("start", seeded["codes"]["钱其他"])
    screen = user.chat.with_buttons().button("1分").split(":")[1]
    await other.press(f"L:{screen}:1:2:0")
    async with harness.db.read() as tx:
        assert len(await tx.answers.for_inspection(1)) == 1


async def test_text_sticker_and_documents_where_buttons_are_expected(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    await user.text("随便说点什么")
    assert "请点按钮作答" in user.chat.messages[-2].text
    assert current_item(user) == 1
    await user.other()
    assert "暂不支持这种消息" in user.chat.messages[-3].text
    await user.document(b"%PDF-1.4", "report.pdf", "application/pdf")
    assert "report.pdf 不是图片" in user.chat.last.text
    async with harness.db.read() as tx:
        assert await tx.evidence.for_inspection(1) == []
        assert await tx.answers.for_inspection(1) == []


async def test_photo_is_mandatory_when_the_company_says_so(harness: Harness) -> None:
    user, _ = await inspector(harness)
    async with harness.db.transaction() as tx:
        await tx.settings.set("photo_required", True)
    await begin(user)
    await user.tap("0分")
    assert "请先发送照片" in user.chat.last.text
    await user.tap("确认创建")
    assert user.chat.toasts[-1][1] is True
    await user.photo(b"evidence")
    await user.tap("确认创建")
    assert current_item(user) == 2


async def test_sample_walkthrough_proposes_a_level(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    for _ in range(3):
        await user.tap("1分")
    assert current_item(user) == 4
    await user.tap("抽样记录")
    for outcome in ["接通"] * 7 + ["未接通"] * 3:
        await user.tap(outcome)
    assert "已记录 10/10" in user.chat.last.text
    assert "建议：<b>0.5分" in user.chat.last.text
    await user.tap("完成")
    assert "建议：<b>0.5分 任意时间电话接通</b>（抽样 接通 7/10）" in user.chat.last.text
    await user.tap("0.5分")
    async with harness.db.read() as tx:
        answer = await tx.answers.get(1, 4)
        assert answer is not None and answer.details["sample"] == {"passed": 7, "failed": 3}


async def test_figures_propose_a_level(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    await user.tap("目录")
    await user.tap("一、客户管理")
    await user.tap("23")
    await user.tap("录入数据")
    await user.text("abc")
    assert "只发送一个数字" in user.chat.last.text
    first = user.chat.last.text
    await user.text("1")
    assert first != user.chat.last.text
    await user.text("85%")
    assert "建议：<b>1分" in user.chat.last.text


async def test_an_entered_figure_is_shown_on_the_card_and_kept(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    for _ in range(3):
        await user.tap("1分")
    await user.tap("录入数据")
    await user.text("100%")
    card = user.chat.with_buttons().text
    assert current_item(user) == 4
    assert "已录入：接通率 <b>100%</b>（达标）" in card
    assert "建议：<b>1分 接通率100%</b>" in card
    await user.tap("1分")
    async with harness.db.read() as tx:
        answer = await tx.answers.get(1, 4)
    assert answer is not None and answer.details["figures"] == {"接通率": 100.0}


async def test_a_number_typed_on_the_card_is_the_items_figure(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    for _ in range(3):
        await user.tap("1分")
    await user.text("95")
    card = user.chat.with_buttons().text
    assert current_item(user) == 4
    assert "已录入：接通率 <b>95%</b>（未达标）" in card
    assert "建议：<b>0分 不符合要求</b>" in card
    await user.tap("0.5分")
    await user.tap("确认创建")
    async with harness.db.read() as tx:
        answer = await tx.answers.get(1, 4)
    assert answer is not None and answer.details["figures"] == {"接通率": 95.0}
    assert current_item(user) == 5
    await user.text("95")
    assert "请点按钮作答" in user.chat.messages[-2].text


async def test_managers_can_be_sent_the_final_result_only(harness: Harness) -> None:
    user, seeded = await inspector(harness)
    manager = harness.user(104)
    await manager.command("start", seeded["codes"]["赵经理"])
    async with harness.db.transaction() as tx:
        await tx.settings.set("manager_summaries", "final")
    await begin(user)
    await answer_all(user)
    await user.tap("提交检查")
    assert not [t for t in manager.chat.texts() if "章节小结" in t]
    assert [t for t in manager.chat.texts() if "检查完成：阳光花园" in t]
    assert len([t for t in user.chat.texts() if "章节小结" in t]) == 5


async def test_completion_compares_with_the_previous_inspection(harness: Harness) -> None:
    user, _ = await inspector(harness)
    for lost in ((), (1, 2, 24)):
        await begin(user)
        for item in STANDARD.items:
            if item.no in lost:
                await user.tap(f"0分 {item.levels[-1].label}")
                await user.tap("确认创建")
            else:
                await user.tap(f"1分 {item.levels[0].label}")
        await user.tap("提交检查")
    async with harness.db.transaction() as tx:
        await tx.settings.set("grade_bands", [[99, "满分"], [90, "很好"]])
    completions = [t for t in user.chat.texts() if "检查完成" in t]
    assert "较上次" not in completions[0]
    assert "完成时间：2026-11-02 10:00" in completions[0]  # 02:00 UTC on the site's clock
    second = completions[1]
    assert "总分 <b>59 / 62</b>（95.2%） 等级：<b>优秀</b>　较上次 ↓ 4.8 个百分点" in second
    assert "一、客户管理：21/23（91.3%） 较上次 ↓ 8.7 个百分点" in second
    assert "二、业主及业主大会：7/8（87.5%） 较上次 ↓ 12.5 个百分点" in second
    assert "三、客户服务：20/20（100.0%） 较上次 → 持平" in second
    await begin(user)
    for item in STANDARD.items:
        await user.tap(f"1分 {item.levels[0].label}")
    await user.tap("提交检查")
    third = [t for t in user.chat.texts() if "检查完成" in t][-1]
    assert "等级：<b>满分</b>　较上次 ↑ 4.8 个百分点" in third


async def test_a_task_finding_joined_from_many_notes_is_cut_with_an_ellipsis(
    harness: Harness,
) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    notes = [f"第{n}条：" + "记录缺页" * 300 for n in range(1, 6)]
    for note in notes:
        await user.tap("备注")
        await user.text(note)
    await user.tap("0分 不符合")
    await user.tap("确认创建")
    async with harness.db.read() as tx:
        (task,) = await tx.tasks.for_inspection(1)
        kept = [n.text for n in await tx.notes.for_item(1, 1)]
    assert len(task.finding) == MAX_FINDING and task.finding.endswith("…")
    assert task.finding[:-1] == notes[0][: MAX_FINDING - 1]
    assert kept == [note[:1000] for note in notes]  # every note stays as typed
