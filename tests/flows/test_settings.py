"""Company settings in the flows: what `pinjian settings set` changes is what the flows do, and a
manager sees the settings that affect them with /settings (设置)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main
from storage.records import Channel, Role
from tests.flows.harness import Harness, User
from tests.flows.test_inspection import STANDARD, begin, inspector


@pytest.fixture(autouse=True)
def data_dir(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI works on the harness's database file."""
    monkeypatch.setenv("PINJIAN_DATA_DIR", str(harness.tmp))
    monkeypatch.setenv("PINJIAN_DATABASE_URL", harness.url)
    return harness.tmp


async def pinjian(*args: str) -> int:
    """`pinjian …` as the administrator runs it, beside the running flows."""
    return await asyncio.to_thread(main, list(args))


async def test_photo_required_set_with_the_cli_makes_an_item_ask_for_a_photo(
    harness: Harness,
) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    await user.tap("0分")
    assert "请先发送照片" not in user.chat.last.text
    await user.tap("确认创建")
    assert user.chat.toasts[-1][1] is False

    assert await pinjian("settings", "set", "photo_required", "true") == 0
    await user.tap("0分")
    assert "请先发送照片" in user.chat.last.text
    await user.tap("确认创建")
    assert user.chat.toasts[-1][1] is True


async def test_deadlines_set_with_the_cli_are_the_task_set_up_choices(harness: Harness) -> None:
    user, _ = await inspector(harness)
    assert await pinjian("settings", "set", "due_choices", "[5, 10]") == 0
    assert await pinjian("settings", "set", "default_due_days", "10") == 0
    await begin(user)
    await user.tap("0分")
    labels = user.chat.with_buttons().labels
    assert "+5天" in labels and "✓+10天" in labels
    assert "+7天" not in labels and "✓+7天" not in labels
    assert "2026-11-12" in user.chat.with_buttons().text


async def test_grade_bands_set_with_the_cli_grade_the_completion(harness: Harness) -> None:
    user, _ = await inspector(harness)
    assert await pinjian("settings", "set", "grade_bands", '[[100, "满分"], [60, "及格"]]') == 0
    await begin(user)
    for item in STANDARD.items:
        await user.tap(f"1分 {item.levels[0].label}")
    await user.tap("提交检查")
    completion = next(t for t in user.chat.texts() if "检查完成" in t)
    assert "等级：<b>满分</b>" in completion


async def test_manager_sees_the_settings_in_plain_chinese(harness: Harness) -> None:
    seeded = await harness.seed()
    manager = harness.user(104)
    await manager.command("start", seeded["codes"]["赵经理"])
    await manager.text("设置")
    text = manager.chat.last.text
    assert "评级：优秀 ≥ 90%，良好 ≥ 80%，合格 ≥ 70%，低于 70% 为待改进" in text
    assert "整改期限：默认 7 天，可选 3、7、15、30 天" in text
    assert "<b>阳光花园</b>" in text
    assert "提醒：达标前 3 天、1 天和当天 09:00\n" in text
    assert "逾期督办：逾期 1 天通知项目经理，逾期 3 天通知区域经理，逾期 7 天通知公司经理" in text
    assert "免打扰 21:00–08:00（Asia/Shanghai）" in text
    assert "每周汇总：每周一 09:00" in text

    assert (
        await pinjian("settings", "set", "reminders.before_days", "[2]", "--site", "阳光花园") == 0
    )
    assert await pinjian("settings", "set", "quiet_hours", "22:00-07:00") == 0
    ladder = '[[2, "项目"], [5, "公司"]]'
    assert await pinjian("settings", "set", "reminders.ladder", ladder, "--site", "阳光花园") == 0
    assert await pinjian("settings", "set", "manager_summaries", "final") == 0
    await manager.command("settings")
    text = manager.chat.last.text
    assert "提醒：达标前 2 天和当天 09:00" in text
    assert "逾期督办：逾期 2 天通知项目经理，逾期 5 天通知公司经理" in text
    assert "免打扰 22:00–07:00" in text
    assert "经理收到：只收最终结果" in text
    assert "管理员" in text


async def test_settings_are_for_managers_only(harness: Harness) -> None:
    seeded = await harness.seed()
    inspector_user: User = harness.user(101)
    await inspector_user.command("start", seeded["codes"]["王检查"])
    await inspector_user.command("settings")
    assert "您没有权限" in inspector_user.chat.last.text
    await inspector_user.text("帮助")
    assert "设置" not in inspector_user.chat.last.text
    manager = harness.user(104)
    await manager.command("start", seeded["codes"]["赵经理"])
    await manager.text("帮助")
    assert "<b>设置</b>　查看公司设置（/settings）" in manager.chat.last.text


async def test_a_region_manager_sees_the_settings_of_every_site_of_the_region(
    harness: Harness,
) -> None:
    seeded = await harness.seed()
    async with harness.db.transaction() as tx:
        east = await tx.regions.create("华东")
        await tx.sites.set_region(seeded["site"].id, east.id)
        chief = await tx.people.create("孙区域")
        await tx.roles.grant(chief.id, None, Role.MANAGER, region_id=east.id)
        await tx.identities.bind(chief.id, Channel.TELEGRAM, "105", chat_id="105")
        await tx.sites.update(seeded["site"].id, settings={"manager_summaries": "final"})
    region_manager = harness.user(105)
    await region_manager.text("设置")
    text = region_manager.chat.last.text
    assert "<b>阳光花园</b>" in text and "<b>翠湖苑</b>" not in text
    assert "经理收到：只收最终结果" in text
