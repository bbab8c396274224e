"""An image that declares more pixels than any photo (a 20 KB PNG of 13,000 × 13,000) is
refused with a clear answer, as an image or as an image file, and nothing of it is kept."""

from __future__ import annotations

import pytest

from tests.fakes.wecom_api import FakeWeComAPI
from tests.security.bombs import bomb_png
from tests.wecom.runner import WeComRunner
from tests.wecom.test_receiving import inspecting

pytestmark = pytest.mark.database_neutral

REFUSED = "图片像素过多（超过 6400 万像素），未保存。"


async def test_an_image_bomb_is_refused_and_not_stored(
    bot: WeComRunner, fake: FakeWeComAPI
) -> None:
    inspector = await inspecting(bot)
    await inspector.image(bomb_png())
    assert any(REFUSED in text for text in inspector.texts()[-2:])
    await inspector.file(bomb_png(), "平面图.png", "image/png")
    assert any(REFUSED in text for text in inspector.texts()[-2:])
    async with bot.db.read() as tx:
        assert await tx.evidence.count_by_item(1) == {}
    assert [sha async for sha in bot.files.hashes()] == []
