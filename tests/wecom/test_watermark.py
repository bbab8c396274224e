"""The verifier's photos through WeCom are the watermarked renditions: the images uploaded with
media/upload carry the band, and the stored originals are untouched."""

from __future__ import annotations

import hashlib

from tests.bands import banded
from tests.fakes.wecom_api import FakeWeComAPI
from tests.reports.data import jpeg
from tests.wecom.runner import WeComRunner
from tests.wecom.test_responsible import card_with, fix


async def test_the_verifier_sees_watermarked_photos(bot: WeComRunner, fake: FakeWeComAPI) -> None:
    await bot.seed()
    inspector, zhang = bot.member("wangjiancha"), bot.member("zhangsan")
    finding, fixed = jpeg(1, (640, 480)), jpeg(2, (640, 480))
    await inspector.text("/inspect")
    await inspector.tap("阳光花园")
    await inspector.image(finding)
    await inspector.tap("0分")
    await inspector.tap("✅ 确认创建")
    await fix(zhang, card_with(zhang, "新的整改任务"), fixed)

    chat = inspector.chat()
    review = next(i for i, m in enumerate(chat) if m.card and "整改待复查" in m.card.text)
    images = [m.sent for m in chat[:review] if m.sent.msgtype == "image"][-2:]
    received = [bytes(fake.media[s.body["image"]["media_id"]].data) for s in images]
    assert banded(received[0], finding)
    assert banded(received[1], fixed)
    # 张三 was shown the inspector's photo stamped too.
    task_photo = next(m.sent for m in zhang.chat() if m.sent.msgtype == "image")
    assert banded(bytes(fake.media[task_photo.body["image"]["media_id"]].data), finding)
    for original in (finding, fixed):
        assert await bot.files.get(hashlib.sha256(original).hexdigest()) == original
