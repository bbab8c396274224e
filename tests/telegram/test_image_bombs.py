"""An image that declares more pixels than any photo (a 20 KB PNG of 13,000 × 13,000) is
refused with a clear answer, as a photo or as an image file, and nothing of it is kept."""

from __future__ import annotations

import pytest

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.security.bombs import bomb_png
from tests.telegram.botrunner import BotRunner
from tests.telegram.test_file_failures import open_first_item, photos_on_item

pytestmark = pytest.mark.database_neutral

REFUSED = "图片像素过多（超过 6400 万像素），未保存。"


async def test_an_image_bomb_is_refused_and_not_stored(
    bot: BotRunner, fake: FakeTelegramAPI
) -> None:
    user = await open_first_item(bot, fake)
    await bot.act(user.send_photo(bomb_png()))
    assert REFUSED in fake.texts(user.id)[-1]
    await bot.act(user.send_document(bomb_png(), "平面图.png", "image/png"))
    assert REFUSED in fake.texts(user.id)[-1]
    assert await photos_on_item(bot, 1) == 0
    assert [sha async for sha in bot.files.hashes()] == []
