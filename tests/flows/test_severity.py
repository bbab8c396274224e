"""A finding's severity in the task set-up: one tap on a row of buttons, the default following
the level lost, the proposed 达标时间 following the severity until the inspector picks a date."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main
from storage.records import Severity
from tests.flows.harness import ChatMessage, Harness, User
from tests.flows.test_inspection import begin, inspector
from tests.flows.test_regions import above_the_sites


@pytest.fixture(autouse=True)
def data_dir(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PINJIAN_DATA_DIR", str(harness.tmp))
    monkeypatch.setenv("PINJIAN_DATABASE_URL", harness.url)
    return harness.tmp


async def created_severity(harness: Harness) -> tuple[Severity, str]:
    async with harness.db.read() as tx:
        (task,) = await tx.tasks.for_inspection(1)
    return task.severity, str(task.due_date)


async def test_zero_points_defaults_to_general_with_its_days(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    await user.tap("0分 不符合")
    setup = user.chat.with_buttons()
    assert setup.labels[1:4] == ["观察项", "✓ 一般不合格", "严重不合格"]
    assert "严重程度：<b>一般不合格</b>" in setup.text
    assert "达标时间：<b>2026-11-09</b>" in setup.text
    await user.tap("确认创建")  # still two taps
    assert await created_severity(harness) == (Severity.GENERAL, "2026-11-09")


async def test_half_points_defaults_to_observation_with_its_days(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    await user.tap("0.5分 部分符合")
    setup = user.chat.with_buttons()
    assert "✓ 观察项" in setup.labels
    assert "严重程度：<b>观察项</b>" in setup.text
    assert "达标时间：<b>2026-11-17</b>" in setup.text
    await user.tap("确认创建")
    assert await created_severity(harness) == (Severity.OBSERVATION, "2026-11-17")


async def test_choosing_a_severity_moves_the_proposed_deadline(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    await user.tap("0分 不符合")
    setup = user.chat.with_buttons()
    await user.press(setup.button("严重不合格"))
    assert "严重程度：<b>严重不合格</b>" in setup.text  # edited in place
    assert "达标时间：<b>2026-11-05</b>" in setup.text
    assert "✓ 严重不合格" in setup.labels and "✓+3天" in setup.labels
    await user.press(setup.button("确认创建"))
    assert await created_severity(harness) == (Severity.SERIOUS, "2026-11-05")


@pytest.mark.parametrize("choose", ["+30天", "2026-12-24"])
async def test_a_deadline_the_inspector_chose_stays(harness: Harness, choose: str) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    await user.tap("0分 不符合")
    setup = user.chat.with_buttons()
    if choose.startswith("+"):
        await user.press(setup.button(choose))
    else:
        await user.text(choose)
    due = setup.text.split("达标时间：<b>")[1][:10]
    await user.press(setup.button("严重不合格"))
    assert f"达标时间：<b>{due}</b>" in setup.text
    await user.press(setup.button("确认创建"))
    assert await created_severity(harness) == (Severity.SERIOUS, due)


async def test_a_forged_severity_button_changes_nothing(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    await user.tap("0分 不符合")
    setup = user.chat.with_buttons()
    serious = setup.button("严重不合格")
    await user.press(serious.rsplit(":", 1)[0] + ":7")
    assert user.chat.toasts[-1][1] is True
    assert "严重程度：<b>一般不合格</b>" in setup.text


async def test_names_and_days_are_company_settings(harness: Harness) -> None:
    user, _ = await inspector(harness)
    names = '["提示", "一般问题", "重大问题"]'
    assert await asyncio.to_thread(main, ["settings", "set", "severity_names", names]) == 0
    assert await asyncio.to_thread(main, ["settings", "set", "serious_due_days", "2"]) == 0
    assert await asyncio.to_thread(main, ["settings", "set", "observation_min_score", "1"]) == 0
    await begin(user)
    await user.tap("0.5分 部分符合")  # below 1 point now: 一般
    setup = user.chat.with_buttons()
    assert setup.labels[1:4] == ["提示", "✓ 一般问题", "重大问题"]
    await user.press(setup.button("重大问题"))
    assert "严重程度：<b>重大问题</b>" in setup.text
    assert "达标时间：<b>2026-11-04</b>" in setup.text


async def test_severity_shows_on_the_task_card_and_in_lists(harness: Harness) -> None:
    seeded = await harness.seed()
    inspector, responsible = harness.user(101), harness.user(102)
    await inspector.command("start", seeded["codes"]["王检查"])
    await responsible.command("start", seeded["codes"]["张三"])
    await inspector.command("inspect")
    await inspector.tap("阳光花园")
    await inspector.tap("0分")
    await inspector.tap("严重不合格")
    await inspector.tap("确认创建")
    card = next(m for m in responsible.chat.messages if "<b>整改任务 #1</b>" in m.text)
    assert "<b>整改任务 #1</b>　待整改　严重不合格" in card.text
    await responsible.command("tasks")
    assert " · 严重不合格 · " in responsible.chat.last.text


async def serious_task(harness: Harness, *, region: bool) -> dict[str, User]:
    """Regions with their managers; 阳光花园 in 华东 (or in no region); then 王检查 records a
    严重不合格 of item 1 with a photo, assigned to 张三."""
    s = await harness.seed()
    users = await above_the_sites(harness, s)
    if not region:
        async with harness.db.transaction() as tx:
            await tx.sites.set_region(s["site"].id, None)
    for name, uid in (("王检查", 101), ("赵经理", 104), ("张三", 102)):
        users[name] = harness.user(uid)
        await users[name].command("start", s["codes"][name])
    inspector = users["王检查"]
    await inspector.command("inspect")
    await inspector.tap("阳光花园")
    await inspector.photo(b"before-photo")
    await inspector.tap("0分")
    await inspector.tap("严重不合格")
    await inspector.tap("确认创建")
    return users


def serious_notices(user: User) -> list[ChatMessage]:
    return [m for m in user.chat.messages if "严重不合格，请您关注" in m.text]


@pytest.mark.parametrize("region", [True, False])
async def test_a_serious_finding_goes_at_once_one_level_up_with_its_photos(
    harness: Harness, region: bool
) -> None:
    users = await serious_task(harness, region=region)
    told = {name: len(serious_notices(user)) for name, user in users.items()}
    above = (
        {"孙区域": 1, "周华南": 0, "郑总部": 0}
        if region
        else {"孙区域": 0, "周华南": 0, "郑总部": 1}
    )
    assert told == {**above, "王检查": 0, "赵经理": 1, "张三": 0}
    chat = users["孙区域" if region else "郑总部"].chat.messages
    (notice,) = [m for m in chat if "严重不合格，请您关注" in m.text]
    assert len(chat[chat.index(notice) - 1].photos) == 1  # the photos, just before the card
    assert "待整改　严重不合格" in notice.text and notice.labels == ["查看详情"]
    card = next(m for m in users["张三"].chat.messages if "<b>整改任务 #1</b>" in m.text)
    assert "新的整改任务" in card.text


async def test_a_general_finding_is_not_sent_above_the_site(harness: Harness) -> None:
    s = await harness.seed()
    users = await above_the_sites(harness, s)
    user = harness.user(101)
    await user.command("start", s["codes"]["王检查"])
    await harness.user(102).command("start", s["codes"]["张三"])
    await begin(user)
    await user.tap("0分 不符合")
    await user.tap("确认创建")
    assert "整改任务 #1" in harness.user(102).chat.messages[-1].text
    assert all("整改任务 #1" not in m.text for u in users.values() for m in u.chat.messages)
