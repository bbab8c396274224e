"""The verifier's photos through Telegram: the finding's photos and the fix's photos arrive as
two albums, captioned 整改前 / 整改后 (an album of several photos too)."""

from __future__ import annotations

import pytest

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.telegram.botrunner import BotRunner
from tests.telegram.test_responsible_journey import JPEG, card, press

pytestmark = pytest.mark.database_neutral


async def test_review_albums_are_labelled(bot: BotRunner, fake: FakeTelegramAPI) -> None:
    seeded = await bot.seed()
    inspector, zhang = fake.user(7001, "王检查"), fake.user(7002, "张三")
    for user, name in ((inspector, "王检查"), (zhang, "张三")):
        await bot.act(user.send_command("start", seeded["codes"][name]))
    await bot.act(inspector.send_command("inspect"))
    await bot.tap(inspector, "阳光花园")
    await bot.act(inspector.send_photo(JPEG))
    await bot.tap(inspector, "0分")
    await bot.tap(inspector, "确认创建")
    await press(bot, zhang, card(fake, zhang), "已整改")
    await bot.act(zhang.send_photo(JPEG + b"after-1"))
    await bot.act(zhang.send_photo(JPEG + b"after-2"))
    await bot.tap(zhang, "提交复查")
    messages = fake.messages(inspector.id)
    review = next(m for m in messages if "整改待复查 #1" in (m.content or ""))
    before, *after = messages[messages.index(review) - 3 : messages.index(review)]
    assert before.photo and before.content == "整改前（1 张）"
    assert [bool(m.photo) for m in after] == [True, True]
    assert after[0].media_group_id is not None
    assert after[0].media_group_id == after[1].media_group_id
    assert [m.content for m in after] == ["整改后（2 张）", None]
