"""The item card's 「评分细则 ▸」 through Telegram: the card is edited in place to show the rule,
and the standard's note in italics."""

from __future__ import annotations

import pytest

from standards.loader import BUILTIN_DIR, load_file
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.telegram.botrunner import BotRunner
from tests.telegram.test_inspector_journey import bound_inspector

pytestmark = pytest.mark.database_neutral

STANDARD = load_file(BUILTIN_DIR / "community-culture.yaml")


async def test_item_card_opens_rule_and_note(bot: BotRunner, fake: FakeTelegramAPI) -> None:
    user, _ = await bound_inspector(bot, fake)
    await bot.act(user.send_command("inspect"))
    await bot.tap(user, "阳光花园")
    card = bot.keyboard(user.id)
    assert "评分细则：" not in (card.content or "")
    await bot.tap(user, "评分细则 ▸")
    edited = fake.message(user.id, card.message_id)
    text = edited.content or ""
    item = STANDARD.item(1)
    assert f"评分细则：{item.rule}" in text.splitlines()
    note = f"注：{item.note}"
    assert note in text.splitlines()
    italic = [e for e in edited.entities if e["type"] == "italic"]
    assert [text[e["offset"] : e["offset"] + e["length"]] for e in italic] == [note]
    assert "评分细则 ▾" in [label for label, _ in edited.buttons()]
