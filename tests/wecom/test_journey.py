"""The inspector's journey end to end through the WeCom adapter: encrypted callbacks in, the
fake WeCom API out, with WeCom's member limit enforced (a dropped message fails the test)."""

from __future__ import annotations

import logging
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from standards.loader import BUILTIN_DIR, load_file
from storage.records import Channel, InspectionStatus, Severity
from tests.fakes.wecom_api import FakeWeComAPI, SentMessage
from tests.wecom.runner import AES_KEY, SECRET, Member, WeComRunner

STANDARD = load_file(BUILTIN_DIR / "community-culture.yaml")
JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-bytes" * 50


def most_in_a_minute(sent: list[SentMessage]) -> int:
    times = sorted(m.at for m in sent)
    return max((sum(1 for t in times if start <= t < start + 60) for start in times), default=0)


def assert_within_member_limit(fake: FakeWeComAPI, *userids: str) -> None:
    for userid in userids:
        sent = fake.sent_to(userid)
        assert not any(m.dropped for m in sent), f"WeCom dropped messages to {userid}"
        assert most_in_a_minute(sent) <= 30


async def start_inspection(bot: WeComRunner) -> Member:
    await bot.seed()
    inspector = bot.member("wangjiancha")
    await inspector.text("/inspect")
    await inspector.tap("阳光花园")
    return inspector


async def test_complete_inspection_with_cards_photos_and_an_expired_token(
    bot: WeComRunner, fake: FakeWeComAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    inspector = await start_inspection(bot)
    first = inspector.live_card("1分")
    assert "【一、客户管理】第 1/62 项" in first.title
    assert [t for t, _ in first.buttons][:3] == ["1分 符合", "0.5分 部分符合", "0分 不符合"]
    photo_media: list[str] = []
    for item in STANDARD.items:
        assert inspector.item_on_screen() == item.no
        if item.no == 30:
            fake.expire_tokens()
        if item.no in (3, 44):
            photo_media.append(await inspector.image(JPEG + bytes([item.no])))
            await inspector.tap("📝 备注")
            await inspector.text(f"第{item.no}项：记录不全 <无签字> & 缺页")
        if item.no in (10, 50):
            await inspector.tap("不适用")
        elif item.no in (3, 44):
            await inspector.tap("0.5分")
            await inspector.tap("✅ 确认创建")
        elif item.no == 21:
            await inspector.tap("0分")
            await inspector.tap("✅ 确认创建")
        else:
            await inspector.tap("1分")
    await inspector.tap("✅ 提交检查")

    texts = inspector.texts()
    completion = next(t for t in texts if "检查完成：阳光花园" in t)
    assert "总分 **58 / 60**（96.7%） 等级：**优秀**" in completion
    assert "<b>" not in completion and "&lt;" not in "".join(texts)
    # Answering replaced the item card in place with its one-line record.
    records = [m.card.title for m in inspector.chat() if m.card and m.card.title.startswith("◐ 3.")]
    assert records == ["◐ 3. 0.5分 有回访制度 · 1📷 · 1📝"]
    # Every card had at most six buttons with payloads of at most 64 bytes.
    for message in fake.sent_to(inspector.userid):
        buttons = message.body.get("template_card", {}).get("button_list", [])
        assert len(buttons) <= 6
        assert all(len(b["key"].encode()) <= 64 for b in buttons)
    # The expired token was fetched again once, and nothing was lost or dropped.
    assert fake.calls.count("/cgi-bin/gettoken") == 2
    assert await bot.dead_or_pending() == 0
    assert_within_member_limit(fake, "wangjiancha", "zhaojingli", "zhangsan")
    async with bot.db.read() as tx:
        inspection = await tx.inspections.get(1)
        assert inspection is not None
        assert inspection.status is InspectionStatus.COMPLETED
        assert inspection.channel is Channel.WECOM
        assert (inspection.score, inspection.max_score) == (58, 60)
        tasks = await tx.tasks.for_inspection(1)
        assert sorted(t.item_no for t in tasks if t.item_no) == [3, 21, 44]
        photos = await tx.evidence.for_inspection(1)
        assert [p.channel_file_ref for p in photos] == photo_media
        assert await bot.files.get(photos[0].sha256) == JPEG + bytes([3])
    assert fake.calls.count("/cgi-bin/media/get") == 2
    # The manager got the summary and the report files, uploaded with media/upload.
    manager = bot.member("zhaojingli")
    assert any("检查完成：阳光花园" in t for t in manager.texts())
    reports = sorted(
        (
            fake.media[m.body["file"]["media_id"]]
            for m in fake.sent_to("zhaojingli")
            if m.msgtype == "file"
        ),
        key=lambda media: media.filename.rsplit(".", 1)[1],
    )
    assert [r.filename.rsplit(".", 1)[1] for r in reports] == ["pdf", "xlsx"]
    assert all(r.filename.startswith("检查报告_阳光花园_") for r in reports)
    assert reports[0].data.startswith(b"%PDF") and reports[1].data.startswith(b"PK")
    # No secret and no access token in any log line.
    assert "access token" in caplog.text  # the refresh was logged …
    for secret in (SECRET, AES_KEY, *fake._tokens):
        assert secret not in caplog.text  # … without the token itself


async def test_section_summary_reaches_the_manager(bot: WeComRunner, fake: FakeWeComAPI) -> None:
    inspector = await start_inspection(bot)
    section = STANDARD.sections[0]
    for item in section.items:
        if item.no == 3:
            await inspector.image(JPEG)
            await inspector.tap("0.5分")
            await inspector.tap("✅ 确认创建")
        else:
            await inspector.tap("1分")
    manager = bot.member("zhaojingli")
    summaries = [t for t in manager.texts() if "章节小结：一、客户管理" in t]
    assert len(summaries) == 1
    assert "项目：阳光花园　检查员：王检查" in summaries[0]
    assert "得分 22.5 / 23" in summaries[0]
    markdown = [m for m in fake.sent_to("zhaojingli") if m.msgtype == "markdown"]
    assert any("**章节小结：一、客户管理**" in (m.content or "") for m in markdown)
    # The 责任人 got the task with the finding photo, uploaded with media/upload.
    responsible = fake.sent_to("zhangsan")
    kinds = Counter(m.msgtype for m in responsible)
    assert kinds["image"] == 1
    uploaded = responsible[0].body["image"]["media_id"]
    assert fake.media[uploaded].data == JPEG
    assert_within_member_limit(fake, "wangjiancha", "zhaojingli", "zhangsan")


async def test_severity_chosen_in_the_task_set_up(bot: WeComRunner, fake: FakeWeComAPI) -> None:
    inspector = await start_inspection(bot)
    await inspector.tap("0分")
    await inspector.tap("严重不合格")
    await inspector.tap("✅ 确认创建")
    async with bot.db.read() as tx:
        (task,) = await tx.tasks.for_inspection(1)
    assert task.severity is Severity.SERIOUS
    created = task.created_at.astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert (task.due_date - created).days == 3
    assert_within_member_limit(fake, "wangjiancha")
