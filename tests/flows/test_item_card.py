"""The item card and its 「评分细则 ▸」: collapsed, the card stays as short as before; opened,
it shows the item's 评分细则 (what a fair inspector scores by) and the standard's note, in
place, and stays open from item to item until closed."""

from __future__ import annotations

from standards.loader import BUILTIN_DIR, load_file
from tests.flows.harness import Harness
from tests.flows.test_inspection import begin, inspector

STANDARD = load_file(BUILTIN_DIR / "community-culture.yaml")


async def test_the_rule_and_note_open_in_place_and_stay_open(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    card = user.chat.with_buttons()
    item = STANDARD.item(1)
    assert item.note is not None
    assert "评分细则 ▸" in card.labels
    assert "评分细则：" not in card.text and item.note not in card.text
    assert f"检查方法：{item.method}" in card.text
    messages = len(user.chat.messages)
    await user.tap("评分细则 ▸")
    assert len(user.chat.messages) == messages  # the same card, edited
    assert card.edits == 1
    assert f"评分细则：{item.rule}\n<i>注：{item.note}</i>" in card.text
    assert "检查方法" not in card.text  # the rule already names what to check
    assert "评分细则 ▾" in card.labels
    await user.photo(b"evidence")  # the card comes again below the photo: still open
    again = user.chat.with_buttons()
    assert again is not card
    assert "已附：1张照片" in again.text and f"评分细则：{item.rule}" in again.text
    assert "评分细则 ▾" in again.labels
    await user.tap("1分 符合")
    second = user.chat.with_buttons()
    assert f"评分细则：{STANDARD.item(2).rule}" in second.text
    assert "注：" not in second.text
    await user.tap("评分细则 ▾")
    assert "评分细则：" not in second.text and "评分细则 ▸" in second.labels


async def test_a_method_the_rule_does_not_name_is_kept(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    await user.tap("评分细则 ▸")
    await user.tap("目录")
    await user.tap("四、")
    await user.tap("·56")
    card = user.chat.with_buttons().text
    item = STANDARD.item(56)
    assert f"评分细则：{item.rule}\n" in card
    assert card.endswith(f"</i>\n检查方法：{item.method}")  # after the standard's note


async def test_an_older_cards_toggle_changes_nothing(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    toggle = user.chat.with_buttons().button("评分细则")
    await user.tap("1分 符合")
    await user.press(toggle)
    assert user.chat.toasts[-1][1] is True
    assert "评分细则：" not in user.chat.with_buttons().text


async def test_the_rule_opens_while_a_note_is_awaited(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    card = user.chat.with_buttons()
    await user.tap("备注")
    await user.press(card.button("评分细则 ▸"))
    assert f"评分细则：{STANDARD.item(1).rule}" in card.text
    await user.text("方案未张贴")  # still taken as the note
    assert "已附：1条备注" in user.chat.with_buttons().text
