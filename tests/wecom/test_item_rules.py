"""「评分细则 ▸」 and 📏 录入数据 on WeCom: a short item's cards are updated in place;
item 1, whose rule and note are too long for a card, comes again as its text with cards of its
buttons, and nothing of it is lost; a figure typed after 📏 录入数据 is on the item's card."""

from __future__ import annotations

import pytest

from standards.loader import BUILTIN_DIR, load_file
from tests.wecom.runner import WeComRunner
from tests.wecom.test_receiving import inspecting

pytestmark = pytest.mark.database_neutral

STANDARD = load_file(BUILTIN_DIR / "community-culture.yaml")


async def test_rules_open_on_wecom(bot: WeComRunner) -> None:
    inspector = await inspecting(bot)
    await inspector.tap("1分")
    face = inspector.live_card("1分")
    assert "第 2/62 项" in face.title and "评分细则：" not in face.text
    cards = len(inspector.chat())
    await inspector.tap("评分细则 ▸")
    assert len(inspector.chat()) == cards  # the same cards, updated in place
    updated = inspector.live_card("1分")
    assert updated.task_id == face.task_id
    assert f"评分细则：{STANDARD.item(2).rule}" in updated.text
    assert inspector.live_card("评分细则 ▾")
    await inspector.tap("⬅ 上一项")
    first = STANDARD.item(1)
    assert first.note is not None
    shown = "\n".join(inspector.texts()[-3:])
    assert f"评分细则：{first.rule}" in shown and f"注：{first.note}" in shown
    assert "第 1/62 项" in shown
    assert inspector.live_card("评分细则 ▾")


async def test_an_entered_figure_is_on_the_card_on_wecom(bot: WeComRunner) -> None:
    inspector = await inspecting(bot)
    for _ in range(3):
        await inspector.tap("1分")
    await inspector.tap("📏 录入数据")
    await inspector.text("95")
    shown = "\n".join(inspector.texts()[-3:])
    assert "第 4/62 项" in shown
    assert "已录入：接通率 95%（未达标）" in shown
    assert "建议：0分 不符合要求" in shown
    await inspector.text("100")
    shown = "\n".join(inspector.texts()[-3:])
    assert "已录入：接通率 100%（达标）" in shown and "建议：1分" in shown
