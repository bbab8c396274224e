"""项目确认 and an appeal end to end through the WeCom adapter (encrypted callbacks in, the fake
WeCom API out): the site's manager confirms in one tap; on another result appeals a finding,
and the inspector's 改判 rescores the task."""

from __future__ import annotations

from storage.records import ConfirmHow, ResultStatus, TaskStatus
from tests.confirm_seed import answered
from tests.fakes.wecom_api import FakeWeComAPI
from tests.wecom.runner import Card, Member, WeComRunner


def card_with(member: Member, text: str, label: str) -> Card:
    for message in reversed(member.chat()):
        card = message.card
        if (
            card is not None
            and text in card.text
            and any(t.startswith(label) for t, _ in card.buttons)
        ):
            return card
    raise AssertionError("\n---\n".join(member.texts()[-8:]))


async def press(member: Member, text: str, label: str) -> None:
    card = card_with(member, text, label)
    await member.press(card, next(k for t, k in card.buttons if t.startswith(label)))


async def submitted(bot: WeComRunner) -> tuple[Member, Member, int]:
    seeded = await bot.seed()
    async with bot.db.transaction() as tx:
        inspection_id = await answered(tx, seeded["site"], seeded["people"])
    inspector, manager = bot.member("wangjiancha"), bot.member("zhaojingli")
    await inspector.text("/resume")
    await inspector.tap("阳光花园")
    await inspector.tap("✅ 提交检查")
    return inspector, manager, inspection_id


async def status(bot: WeComRunner, inspection_id: int) -> tuple[ResultStatus, ConfirmHow | None]:
    async with bot.db.read() as tx:
        when = await tx.confirmations.get(inspection_id)
    assert when is not None
    return when.status, when.how


async def test_confirm_all_on_wecom(bot: WeComRunner, fake: FakeWeComAPI) -> None:
    inspector, manager, inspection_id = await submitted(bot)
    assert card_with(manager, "不合格项 第 1 项", "申诉")
    await press(manager, "检查结果待确认", "✅ 全部确认")
    assert any("已确认 阳光花园 的检查结果" in t for t in manager.texts())
    assert any("检查结果已确认：阳光花园" in t for t in inspector.texts())
    assert await status(bot, inspection_id) == (ResultStatus.CONFIRMED, ConfirmHow.CONFIRMED)
    assert not any(m.dropped for m in fake.sent_to(manager.userid))


async def test_an_appeal_and_its_decision_on_wecom(bot: WeComRunner) -> None:
    inspector, manager, inspection_id = await submitted(bot)
    await press(manager, "不合格项 第 1 项", "申诉")
    await manager.text("记录在档案室，检查时未调阅")
    assert any("已提交第 1 项的申诉" in t for t in manager.texts())
    await press(inspector, "申诉待裁决", "改判")
    await inspector.tap("0.5分")
    await inspector.text("档案齐全，仅未张贴")
    assert any(
        "裁决：**改判**，改为 0.5分" in t or "裁决：改判，改为 0.5分" in t for t in manager.texts()
    )
    async with bot.db.read() as tx:
        tasks = await tx.tasks.for_inspection(inspection_id)
    task = next(t for t in tasks if t.item_no == 1)
    assert task.status is TaskStatus.OPEN and task.score == 0.5
    assert await status(bot, inspection_id) == (ResultStatus.PENDING, None)
