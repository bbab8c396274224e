"""项目确认 and appeals through the channel-neutral flows: confirm all, appeal one finding and
each decision (score, task and report following), separation of duties, two deciders at once,
an appeal on the last day of the window."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from openpyxl import load_workbook
from pypdf import PdfReader

from bot.cli import main
from bot.confirm_notices import ConfirmSweeper
from bot.core.events import EventKind, Incoming
from bot.reports.excel import render_xlsx
from bot.reports.model import load_report
from bot.reports.pdf import render_pdf
from storage.records import (
    AppealDecision,
    Channel,
    ConfirmHow,
    OutboxKind,
    ResultStatus,
    Role,
    TaskEventKind,
    TaskStatus,
)
from storage.tables import outbox
from tests.flows.harness import Harness, User
from tests.flows.test_inspection import STANDARD, current_item
from tests.reports.data import asdict_hash

ZERO_ITEM, HALF_ITEM = 1, 2


async def answer_with_two_findings(user: User) -> None:
    """Item 1 → 0分 and item 2 → 0.5分 (each with its task for 张三), the rest full marks."""
    for item in STANDARD.items:
        assert current_item(user) == item.no, user.chat.last.text
        if item.no == ZERO_ITEM:
            await user.photo(b"finding-photo")
            await user.tap(f"0分 {item.levels[-1].label}")
            await user.tap("确认创建")
        elif item.no == HALF_ITEM:
            await user.tap(f"0.5分 {item.levels[1].label}")
            await user.tap("确认创建")
        else:
            await user.tap(f"{item.levels[0].score:g}分 {item.levels[0].label}")


async def submitted(harness: Harness, *, region: bool = True) -> dict[str, Any]:
    """阳光花园 (in region 华东 with its manager 孙区域) inspected by 王检查 and submitted;
    赵经理 is the site's 项目经理, 张三 the 责任人 of both tasks."""
    seeded = await harness.seed()
    async with harness.db.transaction() as tx:
        second = await tx.people.create("周经理")
        await tx.roles.grant(second.id, seeded["site"].id, Role.MANAGER)
        above = await tx.people.create("孙区域")
        if region:
            area = await tx.regions.create("华东")
            await tx.sites.set_region(seeded["site"].id, area.id)
            await tx.roles.grant(above.id, None, Role.MANAGER, region_id=area.id)
        else:
            await tx.roles.grant(above.id, None, Role.MANAGER)
        for person in (second, above):
            await tx.identities.bind(
                person.id, Channel.TELEGRAM, str(200 + person.id), chat_id=str(200 + person.id)
            )
    people = seeded["people"] | {"周经理": second, "孙区域": above}
    inspector = harness.user(101)
    await inspector.command("start", seeded["codes"]["王检查"])
    manager = harness.user(104)
    await manager.command("start", seeded["codes"]["赵经理"])
    responsible = harness.user(102)
    await responsible.command("start", seeded["codes"]["张三"])
    await inspector.command("inspect")
    await inspector.tap("阳光花园")
    await answer_with_two_findings(inspector)
    await inspector.tap("提交检查")
    return {
        **seeded,
        "people": people,
        "inspector": inspector,
        "manager": manager,
        "second": harness.user(200 + second.id),
        "above": harness.user(200 + above.id),
        "responsible": responsible,
    }


def entry(user: User, text: str) -> Any:
    return next(m for m in reversed(user.chat.messages) if text in m.text and m.buttons)


async def status(harness: Harness) -> tuple[ResultStatus, ConfirmHow | None]:
    async with harness.db.read() as tx:
        when = await tx.confirmations.get(1)
    assert when is not None
    return when.status, when.how


async def file_appeal(harness: Harness, manager: User, item_no: int = ZERO_ITEM) -> None:
    await manager.press(entry(manager, f"不合格项 第 {item_no} 项").button("申诉"))
    assert f"<b>申诉 第 {item_no} 项</b>" in manager.chat.last.text
    await manager.photo(b"appeal-photo")
    assert "已收到申诉照片（共 1 张）" in manager.chat.last.text
    await manager.text("记录在档案室，检查时未调阅")


async def test_the_site_managers_get_each_finding_and_confirm_all_in_one_tap(
    harness: Harness,
) -> None:
    s = await submitted(harness)
    manager, inspector = s["manager"], s["inspector"]
    texts = manager.chat.texts()
    assert any("<b>不合格项 第 1 项</b>" in t and "0/1分" in t for t in texts)
    assert any("<b>不合格项 第 2 项</b>" in t and "0.5/1分" in t for t in texts)
    request = manager.chat.last
    assert "<b>检查结果待确认：阳光花园</b>" in request.text
    assert "不合格项 2 项" in request.text
    assert "2026-11-05 24:00" in request.text or "2026-11-06 00:00" in request.text
    assert request.labels == ["✅ 全部确认"]
    assert entry(manager, "不合格项 第 1 项").labels == ["申诉 第1项"]
    assert not any("检查结果待确认" in t for t in inspector.chat.texts())
    completion = inspector.chat.last.text
    assert completion.startswith("<b>检查完成：阳光花园</b>")
    assert "结果状态：<b>待确认</b>。待项目经理周经理、赵经理确认，申诉期至 2026-11-06 00:00" in (
        completion
    )
    assert "结果状态：<b>待确认</b>" in manager.chat.texts()[-4]
    assert await status(harness) == (ResultStatus.PENDING, None)
    # The 责任人 is not a manager: the button is not theirs.
    await s["responsible"].press(request.button("全部确认"))
    assert s["responsible"].chat.toasts[-1] == ("您没有权限进行这个操作。", True)
    harness.clock.advance(hours=1)
    await manager.tap("全部确认")
    assert "✅ 已确认 阳光花园 的检查结果（检查 #1）。" in manager.chat.last.text
    assert await status(harness) == (ResultStatus.CONFIRMED, ConfirmHow.CONFIRMED)
    told = inspector.chat.last.text
    assert "<b>检查结果已确认：阳光花园</b>" in told and "赵经理 于" in told
    assert "结果状态：已确认" in told
    await s["second"].press(request.button("全部确认"))
    assert s["second"].chat.toasts[-1] == ("该检查结果已确认，不能再申诉。", True)
    await manager.press(entry(manager, "不合格项 第 2 项").button("申诉"))
    assert manager.chat.toasts[-1] == ("该检查结果已确认，不能再申诉。", True)
    async with harness.db.read() as tx:
        when = await tx.confirmations.get(1)
    assert when is not None and when.confirmed_by == s["people"]["赵经理"].id
    assert when.confirmed_at == harness.clock.now


async def test_an_appeal_goes_to_the_inspector_and_the_region_and_pauses_the_task(
    harness: Harness,
) -> None:
    s = await submitted(harness)
    manager, inspector, above = s["manager"], s["inspector"], s["above"]
    async with harness.db.read() as tx:
        before = [r for r in await tx.reminders.for_task(1) if r.cancelled_at is None]
    assert before
    await file_appeal(harness, manager)
    filed = manager.chat.last.text
    assert "已提交第 1 项的申诉（附 1 张照片）" in filed and "王检查、孙区域" in filed
    assert await status(harness) == (ResultStatus.APPEALED, None)
    for decider in (inspector, above):
        request = entry(decider, "申诉待裁决")
        assert "申诉理由：记录在档案室，检查时未调阅" in request.text
        assert "申诉人：赵经理" in request.text
        assert request.labels == ["维持", "改判", "撤销"]
        assert len(decider.chat.messages[-2].photos) == 1
    assert not any("申诉待裁决" in t for t in s["second"].chat.texts())
    async with harness.db.read() as tx:
        pending = [
            r
            for r in await tx.reminders.for_task(1)
            if r.cancelled_at is None and r.sent_at is None
        ]
        photos = await tx.evidence.for_item(1, ZERO_ITEM)
    assert pending == []
    assert len(photos) == 1, "the appeal's photo is not a finding photo"
    responsible = s["responsible"]
    await responsible.press(entry(responsible, "<b>整改任务 #1</b>").button("查看详情"))
    assert "申诉中" in responsible.chat.last.text
    # The same finding cannot be appealed twice.
    await manager.press(entry(manager, "不合格项 第 1 项").button("申诉"))
    assert manager.chat.toasts[-1] == ("第 1 项已提出过申诉，不能重复申诉。", True)
    # Confirming all while the appeal waits signs the result; it is binding once decided.
    await manager.press(entry(manager, "检查结果待确认").button("全部确认"))
    assert "另有 1 项申诉待裁决" in manager.chat.last.text
    assert await status(harness) == (ResultStatus.APPEALED, ConfirmHow.CONFIRMED)
    await inspector.press(entry(inspector, "申诉待裁决").button("维持"))
    assert await status(harness) == (ResultStatus.CONFIRMED, ConfirmHow.CONFIRMED)


async def test_upheld_keeps_the_answer_and_the_task_gets_back_the_days_of_the_appeal(
    harness: Harness,
) -> None:
    s = await submitted(harness)
    manager, inspector = s["manager"], s["inspector"]
    async with harness.db.read() as tx:
        task = await tx.tasks.get(1)
    assert task is not None and task.due_date is not None
    due = task.due_date
    await file_appeal(harness, manager)
    harness.clock.advance(days=2)
    await inspector.press(entry(inspector, "申诉待裁决").button("维持"))
    decided = inspector.chat.last.text
    assert "<b>申诉已裁决：阳光花园 第 1 项</b>" in decided and "裁决：<b>维持</b>" in decided
    for user in (manager, s["above"], s["second"]):
        assert "裁决：<b>维持</b>" in next(t for t in reversed(user.chat.texts()) if "裁决" in t)
    async with harness.db.read() as tx:
        task = await tx.tasks.get(1)
        events = await tx.tasks.events(1)
        answer = await tx.answers.get(1, ZERO_ITEM)
        appeal = (await tx.confirmations.appeals(1))[0]
        pending = [
            r
            for r in await tx.reminders.for_task(1)
            if r.cancelled_at is None and r.sent_at is None
        ]
    assert task is not None and task.status is TaskStatus.OPEN
    assert task.due_date == date.fromordinal(due.toordinal() + 2)
    assert events[-1].kind is TaskEventKind.DUE_CHANGED and events[-1].reason == "申诉期间暂停 2 天"
    assert answer is not None and answer.score == 0 and answer.revision == 1
    assert (
        appeal.decision is AppealDecision.UPHELD and appeal.decided_by == s["people"]["王检查"].id
    )
    assert pending, "reminders resume after the decision"
    # The result is still 待确认: the site has not signed it.
    assert await status(harness) == (ResultStatus.PENDING, None)


async def test_changed_from_zero_to_half_rescores_the_open_task_score_and_report(
    harness: Harness,
) -> None:
    s = await submitted(harness)
    manager, above, responsible = s["manager"], s["above"], s["responsible"]
    await file_appeal(harness, manager)
    await above.press(entry(above, "申诉待裁决").button("改判"))
    assert "第 1 项改判为哪一档？（原判 0分 不符合）" in above.chat.last.text
    assert "0分 不符合" not in above.chat.last.labels
    await above.tap("0.5分")
    assert "请输入理由" in above.chat.last.text
    await above.text("   ")
    assert above.chat.last.text == "理由不能为空，请输入文字说明。"
    await above.text("档案齐全，仅未张贴")
    decided = above.chat.last.text
    assert "裁决：<b>改判</b>，改为 0.5分 部分符合" in decided
    assert "理由：档案齐全，仅未张贴" in decided
    async with harness.db.read() as tx:
        task = await tx.tasks.get(1)
        history = await tx.answers.history(1, ZERO_ITEM)
        inspection = await tx.inspections.get(1)
    assert task is not None and task.status is TaskStatus.OPEN and task.score == 0.5
    assert history[-1].score == 0.5 and history[-1].answered_by == s["people"]["孙区域"].id
    assert history[-1].details["source"] == "申诉改判"
    assert history[-1].details["reason"] == "档案齐全，仅未张贴"
    assert inspection is not None and inspection.score is not None
    assert f"检查总分：{inspection.score:g} / {inspection.max_score:g}" in decided
    card = entry(responsible, "<b>检查结果已更改</b>")
    assert "检查结果：0.5分 部分符合" in card.text
    report = await load_report(harness.db, 1)
    row = next(i for i in report.items if i.no == ZERO_ITEM)
    assert row.score == 0.5 and report.score == inspection.score
    assert report.signoff.appeals[0].decision == "改判"
    assert report.signoff.revision == 2


async def test_withdrawn_gives_full_marks_and_withdraws_the_task(harness: Harness) -> None:
    s = await submitted(harness)
    manager, inspector, responsible = s["manager"], s["inspector"], s["responsible"]
    await file_appeal(harness, manager)
    async with harness.db.read() as tx:
        before = await tx.inspections.get(1)
    await inspector.press(entry(inspector, "申诉待裁决").button("撤销"))
    assert "撤销第 1 项（改为满分 1分）：请输入理由。" in inspector.chat.last.text
    await inspector.text("该项不适用于本项目")
    assert "裁决：<b>撤销</b>，改为 1分 符合" in inspector.chat.texts()[-1]
    async with harness.db.read() as tx:
        task = await tx.tasks.get(1)
        after = await tx.inspections.get(1)
    assert task is not None and task.status is TaskStatus.WITHDRAWN
    assert before is not None and after is not None and before.score is not None
    assert after.score == before.score + 1
    told = next(t for t in responsible.chat.texts() if "<b>整改任务 #1 已撤销</b>" in t)
    assert "王检查 裁决申诉，已将该项的检查结果改为「1分 符合」" in told
    report = await load_report(harness.db, 1)
    assert [t.item_no for t in report.tasks] == [HALF_ITEM]
    assert next(i for i in report.items if i.no == ZERO_ITEM).score == 1


async def test_the_withdrawn_task_names_the_region_manager_who_decided_not_an_inspector(
    harness: Harness,
) -> None:
    s = await submitted(harness)
    manager, above, responsible = s["manager"], s["above"], s["responsible"]
    await file_appeal(harness, manager)
    await above.press(entry(above, "申诉待裁决").button("撤销"))
    await above.text("该项不适用于本项目")
    told = next(t for t in responsible.chat.texts() if "<b>整改任务 #1 已撤销</b>" in t)
    assert "孙区域 裁决申诉，已将该项的检查结果改为「1分 符合」" in told
    assert "检查员 孙区域" not in told


async def test_the_sites_own_manager_may_not_decide(harness: Harness) -> None:
    s = await submitted(harness)
    manager, second = s["manager"], s["second"]
    await file_appeal(harness, manager)
    # 周经理 is the site's 项目经理 too: a decision button reaching them is refused.
    async with harness.db.read() as tx:
        appeal = (await tx.confirmations.appeals(1))[0]
    await second.press(f"A:UP:{appeal.id}")
    assert second.chat.toasts[-1] == ("您是被检查项目的项目经理，不能裁决本项目的申诉。", True)
    await manager.press(f"A:WD:{appeal.id}")
    assert manager.chat.toasts[-1][1] is True
    assert await status(harness) == (ResultStatus.APPEALED, None)


async def test_an_inspector_who_is_also_the_sites_manager_may_not_decide(
    harness: Harness,
) -> None:
    s = await submitted(harness)
    async with harness.db.transaction() as tx:
        await tx.roles.grant(s["people"]["王检查"].id, s["site"].id, Role.MANAGER)
    await file_appeal(harness, s["manager"])
    inspector = s["inspector"]
    assert not any("申诉待裁决" in t for t in inspector.chat.texts())
    async with harness.db.read() as tx:
        appeal = (await tx.confirmations.appeals(1))[0]
    await inspector.press(f"A:UP:{appeal.id}")
    assert inspector.chat.toasts[-1][0].startswith("您是被检查项目的项目经理")


async def test_two_deciders_at_once_one_wins_the_other_is_told(harness: Harness) -> None:
    s = await submitted(harness)
    inspector, above = s["inspector"], s["above"]
    await file_appeal(harness, s["manager"])
    await above.press(entry(above, "申诉待裁决").button("撤销"))
    upheld = entry(inspector, "申诉待裁决").button("维持")

    def event(user: User, kind: EventKind, key: str, **values: Any) -> Incoming:
        return Incoming(
            channel=Channel.TELEGRAM,
            user_id=user.user_id,
            chat_id=user.user_id,
            key=key,
            kind=kind,
            display_name="x",
            **values,
        )

    results = await asyncio.gather(
        harness.engine.handle(
            event(inspector, EventKind.BUTTON, "race-1", payload=upheld, callback_id="cb-race")
        ),
        harness.engine.handle(event(above, EventKind.TEXT, "race-2", text="重复扣分")),
    )
    await harness.flush()
    assert results == [True, True]
    async with harness.db.read() as tx:
        appeal = (await tx.confirmations.appeals(1))[0]
        task = await tx.tasks.get(1)
    assert appeal.decision is not None
    assert task is not None
    if appeal.decision is AppealDecision.UPHELD:
        assert "该申诉已处理（维持，王检查）" in above.chat.last.text
        assert task.status is TaskStatus.OPEN
    else:
        assert inspector.chat.toasts[-1] == ("该申诉已处理（撤销，孙区域），无需再裁决。", True)
        assert task.status is TaskStatus.WITHDRAWN


async def test_the_company_managers_decide_where_the_site_has_no_region(
    harness: Harness,
) -> None:
    s = await submitted(harness, region=False)
    await file_appeal(harness, s["manager"])
    assert "王检查、孙区域" in s["manager"].chat.last.text
    await s["above"].press(entry(s["above"], "申诉待裁决").button("维持"))
    assert "裁决：<b>维持</b>" in s["above"].chat.last.text


async def test_an_appeal_on_the_last_day_of_the_window_is_taken_and_after_it_refused(
    harness: Harness,
) -> None:
    s = await submitted(harness)
    manager = s["manager"]
    # Submitted Monday 2026-11-02 10:00 (Shanghai): the window is Tue, Wed, Thu.
    harness.clock.now = datetime(2026, 11, 5, 15, 59, tzinfo=UTC)  # Thu 23:59 in Shanghai
    await file_appeal(harness, manager)
    assert "已提交第 1 项的申诉" in manager.chat.last.text
    harness.clock.now = datetime(2026, 11, 5, 16, 0, tzinfo=UTC)  # Fri 00:00
    await manager.press(entry(manager, "不合格项 第 2 项").button("申诉"))
    assert manager.chat.toasts[-1] == ("申诉期已过，不能再申诉。", True)


async def test_a_reason_typed_after_the_window_closed_is_refused(harness: Harness) -> None:
    s = await submitted(harness)
    manager = s["manager"]
    await manager.press(entry(manager, "不合格项 第 2 项").button("申诉"))
    harness.clock.now = datetime(2026, 11, 6, 1, 0, tzinfo=UTC)
    await manager.text("理由")
    assert manager.chat.last.text == "申诉期已过，不能再申诉。"
    async with harness.db.read() as tx:
        assert await tx.confirmations.appeals(1) == []


def _sheet_lines(model: Any) -> list[str]:
    workbook = load_workbook(io.BytesIO(render_xlsx(model, {})))
    sheet = workbook["检查表"]
    return [str(row[0]) for row in sheet.iter_rows(values_only=True) if row and row[0]]


def _pdf_text(model: Any) -> str:
    reader = PdfReader(io.BytesIO(render_pdf(model, {})))
    return "\n".join(page.extract_text() for page in reader.pages)


async def test_the_reports_carry_the_sign_off_and_a_decision_makes_a_new_revision(
    harness: Harness,
) -> None:
    s = await submitted(harness)
    manager, above = s["manager"], s["above"]
    first = await load_report(harness.db, 1)
    assert first.signoff is not None and first.signoff.revision == 1
    lines = _sheet_lines(first)
    assert "签字确认（第 1 版）" in lines
    assert "检查员：王检查　提交时间：2026-11-02 10:00" in lines
    assert any(line.startswith("项目负责人：待确认（申诉期至 2026-11-06 00:00") for line in lines)
    await file_appeal(harness, manager)
    harness.clock.advance(hours=3)
    await manager.press(entry(manager, "检查结果待确认").button("全部确认"))
    await above.press(entry(above, "申诉待裁决").button("改判"))
    await above.tap("0.5分")
    await above.text("档案齐全")
    second = await load_report(harness.db, 1)
    assert second.signoff is not None and second.signoff.revision == 2
    assert second.content_hash() != first.content_hash()
    assert second.content_hash() == asdict_hash(second)
    lines = _sheet_lines(second)
    assert "签字确认（第 2 版）" in lines
    assert "项目负责人：赵经理　确认时间：2026-11-02 13:00" in lines
    assert "结果状态：已确认" in lines
    appeal = next(line for line in lines if line.startswith("申诉 第 1 项"))
    assert "理由：记录在档案室，检查时未调阅" in appeal
    assert "裁决：改判 0分 → 0.5分（孙区域 2026-11-02 13:00，理由：档案齐全）" in appeal
    text = _pdf_text(second).replace("\n", "")
    assert "签字确认（第 2 版）" in text
    assert "项目负责人：赵经理" in text and "裁决：改判" in text
    # The decision sent the reports again to the inspector and the site's managers.
    async with harness.db.read() as tx:
        documents = await tx.connection.scalar(
            sa.select(sa.func.count()).where(
                outbox.c.chat_id == "101", outbox.c.kind == OutboxKind.SEND_DOCUMENT
            )
        )
    assert documents == 4, "Excel and PDF at submission, and again after the decision"


async def test_the_window_passing_confirms_automatically_after_one_reminder(
    harness: Harness,
) -> None:
    async with harness.db.transaction() as tx:
        await tx.settings.set("holidays", ["2026-11-04"])
    s = await submitted(harness)
    manager, inspector = s["manager"], s["inspector"]
    sweeper = ConfirmSweeper(harness.db, harness.clock)
    # Submitted Mon 11-02; Wed 11-04 is a holiday: the window is Tue, Thu, Fri; 11-07/08 are
    # the weekend. The reminder goes Fri 09:00, the result is confirmed at Sat 00:00.
    async with harness.db.read() as tx:
        when = await tx.confirmations.get(1)
    assert when is not None
    assert when.deadline == datetime(2026, 11, 6, 16, 0, tzinfo=UTC)
    assert when.remind_at == datetime(2026, 11, 6, 1, 0, tzinfo=UTC)
    harness.clock.now = datetime(2026, 11, 6, 0, 59, tzinfo=UTC)
    assert (await sweeper.sweep()).sent == 0
    harness.clock.now = datetime(2026, 11, 6, 1, 0, tzinfo=UTC)
    assert (await sweeper.sweep()).reminded == 1
    assert (await sweeper.sweep()).reminded == 0, "reminded once"
    await harness.flush()
    reminder = manager.chat.last.text
    assert "<b>⏰ 今天是确认检查结果的最后一天</b>" in reminder
    assert "2026-11-07 00:00" in reminder
    assert "今天是确认" in s["second"].chat.last.text
    assert not any("今天是确认" in t for t in inspector.chat.texts())
    # Still on the last day: an appeal is taken.
    harness.clock.now = datetime(2026, 11, 6, 15, 0, tzinfo=UTC)
    await manager.press(entry(manager, "不合格项 第 2 项").button("申诉"))
    assert "<b>申诉 第 2 项</b>" in manager.chat.last.text
    await manager.text("已整改完毕")
    harness.clock.now = datetime(2026, 11, 6, 16, 0, tzinfo=UTC)
    assert (await sweeper.sweep()).confirmed == 1
    assert (await sweeper.sweep()).confirmed == 0, "confirmed once"
    await harness.flush()
    assert await status(harness) == (ResultStatus.APPEALED, ConfirmHow.AUTO)
    told = inspector.chat.last.text
    assert "<b>检查结果已逾期自动确认：阳光花园</b>" in told and "2026-11-07 00:00" in told
    await manager.press(entry(manager, "检查结果待确认").button("全部确认"))
    assert manager.chat.toasts[-1] == ("该检查结果已确认，不能再申诉。", True)
    await inspector.press(entry(inspector, "申诉待裁决").button("维持"))
    assert await status(harness) == (ResultStatus.CONFIRMED, ConfirmHow.AUTO)
    report = await load_report(harness.db, 1)
    assert report.signoff is not None
    assert "项目负责人：—　逾期自动确认：2026-11-07 00:00" in _sheet_lines(report)


async def test_the_last_day_reminder_does_not_go_out_in_the_sites_quiet_hours(
    harness: Harness,
) -> None:
    s = await submitted(harness)
    sweeper = ConfirmSweeper(harness.db, harness.clock)
    async with harness.db.read() as tx:
        when = await tx.confirmations.get(1)
    assert when is not None
    # The bot was down from the reminder's 09:00 until 21:30 on the last day, in the quiet
    # hours there (21:00–08:00); the window closes at midnight.
    harness.clock.now = when.deadline - timedelta(hours=2, minutes=30)
    assert when.remind_at < harness.clock.now
    assert (await sweeper.sweep()).reminded == 0
    await harness.flush()
    assert not any("今天是确认" in t for t in s["manager"].chat.texts())
    async with harness.db.read() as tx:
        still = await tx.confirmations.get(1)
    assert still is not None and still.reminded_at is None


async def test_two_sweepers_at_once_confirm_once(harness: Harness) -> None:
    s = await submitted(harness)
    harness.clock.now = datetime(2026, 11, 6, 0, 0, tzinfo=UTC)
    one, two = ConfirmSweeper(harness.db, harness.clock), ConfirmSweeper(harness.db, harness.clock)
    reports = await asyncio.gather(one.sweep(), two.sweep())
    assert sum(r.confirmed for r in reports) == 1
    assert sum(r.reminded for r in reports) == 0, "the window had passed: no reminder"
    await harness.flush()
    assert sum("检查结果已逾期自动确认" in t for t in s["manager"].chat.texts()) == 1


async def test_stats_show_the_result_status_of_each_sites_latest_inspection(
    harness: Harness,
) -> None:
    s = await submitted(harness)
    manager = s["manager"]
    await manager.command("stats")
    assert "阳光花园：" in manager.chat.last.text
    assert "（2026-11-02，待确认）" in manager.chat.last.text
    await file_appeal(harness, manager)
    await manager.command("stats")
    assert "（2026-11-02，申诉中）" in manager.chat.last.text
    await s["inspector"].press(entry(s["inspector"], "申诉待裁决").button("维持"))
    await manager.press(entry(manager, "检查结果待确认").button("全部确认"))
    await manager.command("stats")
    assert "（2026-11-02，已确认）" in manager.chat.last.text
    async with harness.db.read() as tx:
        assert await tx.confirmations.statuses([1, 99]) == {
            1: ResultStatus.CONFIRMED,
            99: ResultStatus.CONFIRMED,
        }


async def test_pinjian_inspection_show_prints_status_findings_and_appeals(
    harness: Harness, monkeypatch: Any, capsys: Any
) -> None:
    s = await submitted(harness)
    await file_appeal(harness, s["manager"])
    await s["inspector"].press(entry(s["inspector"], "申诉待裁决").button("维持"))
    monkeypatch.setenv("PINJIAN_DATA_DIR", str(harness.tmp / "data"))
    monkeypatch.setenv("PINJIAN_DATABASE_URL", harness.url)
    monkeypatch.delenv("PINJIAN_TELEGRAM_TOKEN", raising=False)
    assert await asyncio.to_thread(main, ["inspection", "show", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["inspection"] == 1 and data["site"] == "阳光花园"
    assert data["status"] == "待确认"
    assert [f["no"] for f in data["findings"]] == [ZERO_ITEM, HALF_ITEM]
    assert data["findings"][0]["task"] in ("待整改", "逾期")  # the CLI reads the real clock
    assert data["appeals"][0]["decision"] == "维持"
    assert data["appeals"][0]["decided_by"] == "王检查"
    assert data["confirmation"]["how"] is None and data["confirmation"]["revision"] == 2
    assert await asyncio.to_thread(main, ["inspection", "show", "1"]) == 0
    text = capsys.readouterr().out
    assert "结果状态：待确认" in text and "不合格项 2 项：" in text
    assert "申诉 第 1 项：赵经理" in text and "裁决：维持" in text
    assert await asyncio.to_thread(main, ["inspection", "show", "99"]) != 0
    assert "没有编号为 99 的检查" in capsys.readouterr().err


async def test_forged_and_broken_confirmation_buttons_change_nothing(harness: Harness) -> None:
    s = await submitted(harness)
    manager = s["manager"]
    stale = ("这个按钮已失效，请使用最新的消息。", True)
    for forged in ("A:AP:1:5", "A:AP:1:999", "A:AP:1", "A:OK", "A:UP:77", "A:ZZ:1", "A:AP:x:1"):
        await manager.press(forged)
        assert manager.chat.toasts[-1][1] is True, forged
    await manager.press("A:AP:1:5")
    assert manager.chat.toasts[-1] == stale, "item 5 has full marks: no finding to appeal"
    async with harness.db.read() as tx:
        assert await tx.confirmations.appeals(1) == []
    assert await status(harness) == (ResultStatus.PENDING, None)
    assert not any("出了点问题" in t for t in manager.chat.texts())
