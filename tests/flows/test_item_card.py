"""The item card carries the item's 评分细则 (what a fair inspector scores by) and the
standard's note where it has one, and stays short: 检查方法 only when the rule does not
already say it."""

from __future__ import annotations

from standards.loader import BUILTIN_DIR, load_file
from tests.flows.harness import Harness
from tests.flows.test_inspection import begin, inspector

STANDARD = load_file(BUILTIN_DIR / "community-culture.yaml")


async def test_item_card_shows_the_rule_and_the_note(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    first = user.chat.with_buttons().text
    item = STANDARD.item(1)
    assert item.note is not None
    assert f"评分细则：{item.rule}\n" in first
    assert f"<i>注：{item.note}</i>" in first
    assert "检查方法" not in first  # the rule already names what to check
    assert len(first.splitlines()) == 4
    await user.tap("1分 符合")
    second = user.chat.with_buttons().text
    assert f"评分细则：{STANDARD.item(2).rule}" in second
    assert "注：" not in second


async def test_a_method_the_rule_does_not_name_is_kept(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    await user.tap("目录")
    await user.tap("四、")
    await user.tap("·56")
    card = user.chat.with_buttons().text
    item = STANDARD.item(56)
    assert f"评分细则：{item.rule}\n检查方法：{item.method}" in card
