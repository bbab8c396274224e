"""WeCom group robots: project-group posts through the robot's webhook (real outbox worker,
real sender, the fake WeCom API's webhook endpoints with its 20-a-minute limit per robot)."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from bot.delivery import OutboxWorker
from bot.flows import group_posts
from bot.handlers.wecom.pacing import MemberPacer
from bot.handlers.wecom.webhook import ROBOT_LIMIT, WeComGroupChannel
from bot.reports.service import ReportService
from storage.db import Database
from storage.evidence import FileEvidenceStore
from storage.migrate import upgrade
from storage.records import Channel, ChatGroup, GroupKind, OutboxStatus, Role, Site
from storage.tables import outbox
from tests.fakes.wecom_api import FakeWeComAPI, RobotMessage
from tests.wecom.runner import FakeClock

KEY = "robot-key-0123456789abcdef"
OTHER_KEY = "robot-key-fedcba9876543210"
FOOTER = "请在与品检的私聊中处理"


class Robots:
    """One bot process's WeCom group sender and its outbox worker, on the fake clock."""

    def __init__(self, fake: FakeWeComAPI, data_dir: Path, clock: FakeClock) -> None:
        self.fake = fake
        self.clock = clock
        self.url = f"sqlite+aiosqlite:///{data_dir / 'pinjian.db'}"
        self.files = FileEvidenceStore(data_dir / "evidence", max_bytes=20 * 1_048_576)

    async def start(self) -> None:
        await upgrade(self.url)
        self.db = Database(self.url, clock=self.clock.utc, files=self.files)
        await self.db.open()
        pacer = MemberPacer(limit=ROBOT_LIMIT, clock=self.clock, sleep=self.clock.sleep)
        self.channel = WeComGroupChannel(self.db, self.files, self.fake.url, pacer=pacer)
        await self.channel.start()
        self.reports = ReportService(self.db, executor=ThreadPoolExecutor(max_workers=1))
        self.worker = OutboxWorker(
            self.db,
            Channel.WECOM_GROUP,
            self.channel.send,
            clock=self.clock.utc,
            prepare=self.reports.prepare,
        )

    async def stop(self) -> None:
        await self.channel.close()
        await self.reports.close()
        await self.db.close()

    async def settle(self) -> None:
        """Deliver everything due, moving the clock on to the next paced row."""
        pending = (outbox.c.channel == Channel.WECOM_GROUP) & (
            outbox.c.status == OutboxStatus.PENDING
        )
        for _ in range(10_000):
            if await self.worker.run_once():
                continue
            async with self.db.read() as tx:
                count = sa.select(sa.func.count()).where(pending)
                if not (await tx.connection.execute(count)).scalar():
                    return
                later = sa.select(sa.func.min(outbox.c.not_before)).where(
                    pending, outbox.c.not_before > self.clock.utc()
                )
                due = (await tx.connection.execute(later)).scalar()
            assert due is not None, "pending rows that are due but never claimed"
            self.clock.now = due.timestamp() + 0.001
        raise AssertionError("outbox did not settle")

    async def seed(self) -> tuple[Site, ChatGroup, ChatGroup]:
        """阳光花园 with its robot and 翠湖苑 with another; 赵经理 manages 阳光花园 (on WeCom)."""
        async with self.db.transaction() as tx:
            site = await tx.sites.create("阳光花园", timezone="Asia/Shanghai")
            other = await tx.sites.create("翠湖苑", timezone="Asia/Shanghai")
            manager = await tx.people.create("赵经理")
            await tx.roles.grant(manager.id, site.id, Role.MANAGER)
            await tx.identities.bind(manager.id, Channel.WECOM, "zhaojingli", chat_id="zhaojingli")
            group = await tx.groups.add(GroupKind.WECOM, site_id=site.id, webhook_key=KEY)
            second = await tx.groups.add(GroupKind.WECOM, site_id=other.id, webhook_key=OTHER_KEY)
        self.fake.add_robot(KEY)
        self.fake.add_robot(OTHER_KEY)
        return site, group, second

    async def post(self, group: ChatGroup, caption: str) -> None:
        async with self.db.transaction() as tx:
            await group_posts.queue(tx, group, "group_file", caption=caption)


@pytest.fixture
async def robots(fake: FakeWeComAPI, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Robots]:
    runner = Robots(fake, tmp_path, clock)
    await runner.start()
    yield runner
    await runner.stop()


def most_in_any_minute(sent: list[RobotMessage]) -> int:
    times = sorted(m.at for m in sent)
    return max((sum(1 for t in times if start <= t < start + 60) for start in times), default=0)


async def test_posts_are_paced_under_20_a_minute_per_robot_never_dropped(
    robots: Robots, fake: FakeWeComAPI, clock: FakeClock
) -> None:
    _, group, second = await robots.seed()
    started = clock()
    for n in range(45):
        await robots.post(group, f"通知 {n}")
    await robots.post(second, "另一个项目")
    await robots.settle()
    sent = fake.posted(KEY)
    assert [m.content for m in sent] == [f"通知 {n}\n{FOOTER}" for n in range(45)]
    assert fake.robot_refusals == []  # never over the robot's limit
    assert most_in_any_minute(sent) <= 20
    assert 2 * 60 < sent[-1].at - started < 3 * 61  # and no needless waiting
    (other,) = fake.posted(OTHER_KEY)
    assert other.at == started  # the other robot was not held up


async def test_the_overdue_list_mentions_by_userid_then_mobile_then_name(
    robots: Robots, fake: FakeWeComAPI, clock: FakeClock
) -> None:
    site, group, _ = await robots.seed()
    async with robots.db.transaction() as tx:
        people = {}
        for name, phone, userid in (
            ("张三", None, "zhangsan"),
            ("李四", "13800000000", None),
            ("王五", None, None),
        ):
            people[name] = await tx.people.create(name, phone=phone)
            if userid:
                await tx.identities.bind(people[name].id, Channel.WECOM, userid, chat_id=userid)
            await tx.tasks.create(
                site.id,
                f"{name}的问题",
                created_by=None,
                due_date=date(2026, 10, 30),
                responsible_person_id=people[name].id,
            )
        assert await group_posts.overdue_list(tx, site, group, clock.utc()) == 3
    await robots.settle()
    (message,) = fake.posted(KEY)
    assert message.msgtype == "text"
    assert message.mentioned == ("zhangsan",)
    assert message.mentioned_mobiles == ("13800000000",)
    assert message.content is not None
    assert "张三：" in message.content and "王五：" in message.content
    assert "<" not in message.content and "**" not in message.content
    assert message.content.endswith(FOOTER)


def grey_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 200, 200)).save(out, "JPEG")
    return out.getvalue()


async def test_photos_go_watermarked_and_files_through_upload_media(
    robots: Robots, fake: FakeWeComAPI
) -> None:
    _, group, _ = await robots.seed()
    original = await robots.files.put(grey_photo())
    async with robots.db.transaction() as tx:
        band = "阳光花园 · 第 1 项 · 拍摄 2026-11-02 09:30 · 王检查"
        await group_posts.queue(
            tx, group, "group_file", photos=[(original.sha256, band)], caption="现场照片"
        )
    await group_posts.post_file(robots.db, b"%PDF-1.4 monthly", "通报.pdf", "月度通报", site_id=1)
    await robots.settle()
    image, text, file, caption = fake.posted(KEY)
    assert image.msgtype == "image" and image.data is not None
    assert image.data != await robots.files.get(original.sha256)  # a rendition, not the original
    stamped = Image.open(io.BytesIO(image.data)).convert("L")
    assert stamped.getpixel((stamped.width - 2, stamped.height - 3)) < 150  # the dark band
    assert stamped.getpixel((stamped.width // 2, 10)) > 190  # the photo above it
    assert text.content == f"现场照片\n{FOOTER}"
    assert (file.msgtype, file.filename, file.data) == ("file", "通报.pdf", b"%PDF-1.4 monthly")
    assert caption.content == f"月度通报\n{FOOTER}"


async def test_a_removed_robot_marks_the_group_inactive_and_nothing_else_breaks(
    robots: Robots, fake: FakeWeComAPI, caplog: pytest.LogCaptureFixture
) -> None:
    _, group, second = await robots.seed()
    fake.remove_robot(KEY)
    caplog.set_level(logging.INFO)
    await robots.post(group, "第一条")
    await robots.post(group, "第二条")
    await robots.post(second, "翠湖苑照常")
    await robots.settle()
    assert fake.posted(KEY) == []
    assert [m.content for m in fake.posted(OTHER_KEY)] == [f"翠湖苑照常\n{FOOTER}"]
    async with robots.db.read() as tx:
        current = await tx.groups.get(group.id)
        assert current is not None and not current.active
        notes = (
            await tx.connection.execute(
                sa.select(outbox.c.payload).where(
                    outbox.c.channel == Channel.WECOM, outbox.c.chat_id == "zhaojingli"
                )
            )
        ).all()
    (note,) = notes
    assert "「阳光花园」的企业微信群机器人已失效" in note.payload["text"]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "marked inactive" in warnings[0].getMessage()
    assert KEY not in caplog.text  # the key is a secret
    async with robots.db.read() as tx:
        rows = (
            await tx.connection.execute(
                sa.select(outbox.c.status).where(outbox.c.chat_id == f"g{group.id}")
            )
        ).all()
    assert [r.status for r in rows] == [OutboxStatus.DEAD, OutboxStatus.DEAD]


async def test_group_posts_queued_before_a_restart_go_out_once_in_order(
    fake: FakeWeComAPI, tmp_path: Path, clock: FakeClock
) -> None:
    first = Robots(fake, tmp_path, clock)
    await first.start()
    _, group, _ = await first.seed()
    for n in range(3):
        await first.post(group, f"重启前 {n}")
    await first.stop()  # stopped before anything was sent
    assert fake.posted(KEY) == []
    second = Robots(fake, tmp_path, clock)
    await second.start()
    try:
        await second.settle()
        await second.settle()
    finally:
        await second.stop()
    assert [m.content for m in fake.posted(KEY)] == [f"重启前 {n}\n{FOOTER}" for n in range(3)]
