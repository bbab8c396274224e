"""What the channels read back from the outbox: a web chat's delivered messages and files, and
the newest WeCom message whose channel id says what it showed (SQLite and PostgreSQL)."""

from __future__ import annotations

from storage.db import Database
from storage.outbox import SentMark
from storage.records import Channel, OutboxKind, OutboxMessage
from tests.storage.helpers import FakeClock

WEB, SEND, PHOTO, DOCUMENT = (
    Channel.WEB,
    OutboxKind.SEND,
    OutboxKind.SEND_PHOTO,
    OutboxKind.SEND_DOCUMENT,
)
A, B, C = "a" * 64, "b" * 64, "c" * 64


async def _claim_all(db: Database, clock: FakeClock, channel: Channel) -> list[OutboxMessage]:
    claimed: list[OutboxMessage] = []
    while True:
        async with db.transaction() as tx:
            batch = await tx.outbox.claim(
                channel, clock.now, limit=50, worker_id="w", lease_seconds=60
            )
            if not batch:
                return claimed
            for message in batch:
                await tx.outbox.mark_sent_many([SentMark(message.id, f"m{message.id}")])
            claimed.extend(batch)


async def test_delivered_lists_the_chats_sent_and_sending_rows_of_the_kinds_newest_first(
    db: Database, clock: FakeClock
) -> None:
    async with db.transaction() as tx:
        first = await tx.outbox.enqueue(WEB, "1", SEND, {"text": "一"})
        photo = await tx.outbox.enqueue(WEB, "1", PHOTO, {"photos": [A]})
        await tx.outbox.enqueue(WEB, "1", OutboxKind.ANSWER_CALLBACK, {"callback_id": "x"})
        await tx.outbox.enqueue(WEB, "2", SEND, {"text": "别的聊天"})
        await tx.outbox.enqueue(Channel.TELEGRAM, "1", SEND, {"text": "别的渠道"})
    await _claim_all(db, clock, WEB)
    async with db.transaction() as tx:
        sending = await tx.outbox.enqueue(WEB, "1", SEND, {"text": "正在发"})
        await tx.outbox.claim(WEB, clock.now, limit=10, worker_id="w2", lease_seconds=60)
        await tx.outbox.enqueue(WEB, "1", SEND, {"text": "还在排队"})
    async with db.read() as tx:
        kinds = (SEND, PHOTO)
        shown = await tx.outbox.delivered(WEB, "1", kinds, limit=10)
        assert [m.id for m in shown] == [sending.id, photo.id, first.id]
        assert [m.id for m in await tx.outbox.delivered(WEB, "1", kinds, limit=2)] == [
            sending.id,
            photo.id,
        ]
        after = await tx.outbox.delivered(WEB, "1", kinds, after=photo.id, limit=10)
        assert [m.id for m in after] == [sending.id]
        assert await tx.outbox.delivered(WEB, "3", kinds, limit=10) == []


async def test_delivered_file_finds_a_document_or_one_photo_of_an_album_in_that_chat_only(
    db: Database, clock: FakeClock
) -> None:
    async with db.transaction() as tx:
        album = await tx.outbox.enqueue(WEB, "1", PHOTO, {"text": "", "photos": [A, B]})
        report = await tx.outbox.enqueue(
            WEB, "1", DOCUMENT, {"document": C, "document_name": "检查报告.pdf"}
        )
        await tx.outbox.enqueue(WEB, "1", SEND, {"text": f"文字里提到 {C[:8]} 不算：{A}"})
        await tx.outbox.enqueue(WEB, "2", PHOTO, {"photos": ["d" * 64]})
    await _claim_all(db, clock, WEB)
    async with db.transaction() as tx:
        await tx.outbox.enqueue(WEB, "1", PHOTO, {"photos": ["e" * 64]})
    async with db.read() as tx:
        for sha, row in ((A, album), (B, album), (C, report)):
            found = await tx.outbox.delivered_file(WEB, "1", sha)
            assert found is not None and found.id == row.id
        assert await tx.outbox.delivered_file(WEB, "1", "d" * 64) is None  # another chat's
        assert await tx.outbox.delivered_file(WEB, "2", A) is None
        assert await tx.outbox.delivered_file(Channel.TELEGRAM, "1", A) is None
        assert await tx.outbox.delivered_file(WEB, "1", "e" * 64) is None  # not yet sending
        assert await tx.outbox.delivered_file(WEB, "1", A[:10]) is None  # no partial match


async def test_newest_sent_named_finds_the_newest_sent_message_whose_id_has_a_prefix(
    db: Database, clock: FakeClock
) -> None:
    wecom = Channel.WECOM
    async with db.transaction() as tx:
        numbered = await tx.outbox.enqueue(wecom, "zs", SEND, {"buttons": [[["是", "Y"]]]})
        card = await tx.outbox.enqueue(wecom, "zs", SEND, {"text": "卡片"})
        plain = await tx.outbox.enqueue(wecom, "zs", SEND, {"text": "文字"})
    async with db.transaction() as tx:
        for message, sent_id in ((numbered, "num:1"), (card, "card:7"), (plain, "msg:9")):
            await tx.outbox.claim(wecom, clock.now, limit=1, worker_id="w", lease_seconds=60)
            await tx.outbox.mark_sent_many([SentMark(message.id, sent_id)])
    async with db.read() as tx:
        newest = await tx.outbox.newest_sent_named(wecom, "zs", ("num:", "card:"))
        assert newest is not None and newest.id == card.id
        only_numbered = await tx.outbox.newest_sent_named(wecom, "zs", ("num:",))
        assert only_numbered is not None and only_numbered.payload["buttons"] == [[["是", "Y"]]]
        assert await tx.outbox.newest_sent_named(wecom, "ls", ("num:", "card:")) is None
        assert await tx.outbox.newest_sent_named(Channel.WEB, "zs", ("num:",)) is None
