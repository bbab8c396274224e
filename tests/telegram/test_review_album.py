"""The verifier's photos through Telegram: the finding's photos and the fix's photos arrive as
two albums, captioned 整改前 / 整改后 (an album of several photos too)."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from tests.bands import banded
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.reports.data import jpeg
from tests.telegram.botrunner import BotRunner
from tests.telegram.test_responsible_journey import JPEG, card, press

pytestmark = pytest.mark.database_neutral


def recompressed(data: bytes) -> bytes:
    """The same picture saved again (what a re-sent copy looks like)."""
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).save(out, "JPEG", quality=70)
    return out.getvalue()


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


async def test_the_verifier_sees_watermarked_photos(bot: BotRunner, fake: FakeTelegramAPI) -> None:
    """整改前, 整改后 and the 几乎相同 photo reach the verifier stamped with the band; the stored
    originals are untouched."""
    seeded = await bot.seed()
    inspector, zhang = fake.user(7001, "王检查"), fake.user(7002, "张三")
    for user, name in ((inspector, "王检查"), (zhang, "张三")):
        await bot.act(user.send_command("start", seeded["codes"][name]))
    finding, fixed = jpeg(1, (640, 480)), jpeg(2, (640, 480))
    resent = recompressed(finding)
    await bot.act(inspector.send_command("inspect"))
    await bot.tap(inspector, "阳光花园")
    await bot.act(inspector.send_photo(finding))
    await bot.tap(inspector, "0分")
    await bot.tap(inspector, "确认创建")
    await press(bot, zhang, card(fake, zhang), "已整改")
    await bot.act(zhang.send_photo(fixed))
    await bot.act(zhang.send_photo(resent))
    await bot.tap(zhang, "提交复查")
    await bot.delivered()

    messages = fake.messages(inspector.id)
    review = next(m for m in messages if "整改待复查 #1" in (m.content or ""))
    shown = [m for m in messages[: messages.index(review)] if m.photo][-4:]
    received = [fake.files.by_id[m.photo[-1]["file_id"]].data for m in shown if m.photo]
    assert [m.content for m in shown] == [
        "整改前（1 张）",
        "整改后（2 张）",
        None,
        "几乎相同的原照片（1 张）",
    ]
    for data, original in zip(received, [finding, fixed, resent, finding], strict=True):
        assert banded(data, original)
    for original in (finding, fixed, resent):
        digest = hashlib.sha256(original).hexdigest()
        assert await bot.files.get(digest) == original
