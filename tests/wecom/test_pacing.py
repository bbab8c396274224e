"""Per-member pacing: WeCom drops messages past 30 a minute to one member, so the sender
delays (never drops) what does not fit, and other members do not wait for it."""

from __future__ import annotations

from typing import Any

from bot.core.messages import Outgoing
from bot.handlers.wecom.pacing import MemberPacer
from storage.records import Channel, OutboxKind
from tests.fakes.wecom_api import FakeWeComAPI, SentMessage
from tests.wecom.runner import FakeClock, WeComRunner


def most_in_any_minute(sent: list[SentMessage]) -> int:
    times = sorted(m.at for m in sent)
    return max((sum(1 for t in times if start <= t < start + 60) for start in times), default=0)


async def enqueue(bot: WeComRunner, chat_id: str, kind: OutboxKind, **payload: Any) -> None:
    message = Outgoing(kind=kind, **payload)
    async with bot.db.transaction() as tx:
        await tx.outbox.enqueue(Channel.WECOM, chat_id, kind, message.to_payload())


async def test_pacer_window() -> None:
    clock = FakeClock(1000.0)
    pacer = MemberPacer(limit=3, window=60, clock=clock, sleep=clock.sleep)
    assert pacer.delay("a", 3) == 0
    for _ in range(2):
        async with pacer.slot("a"):
            clock.advance(1)  # recorded when the send has finished
        clock.advance(9)
    assert pacer.delay("a") == 0
    assert pacer.delay("a", 2) == 41  # the first send (at 1001) leaves the window at 1061
    assert pacer.delay("a", 5) == 51  # more than the limit counts as the limit
    assert pacer.delay("b", 3) == 0
    clock.advance(60)
    assert pacer.delay("a", 3) == 0


async def test_slot_waits_for_room_and_records_the_send() -> None:
    clock = FakeClock(0.0)
    pacer = MemberPacer(limit=2, window=60, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        async with pacer.slot("a"):
            pass
    assert clock.now == 120.0  # 2 at 0s, 2 at 60s, 1 at 120s


async def test_a_burst_of_100_messages_is_delayed_not_dropped(
    bot: WeComRunner, fake: FakeWeComAPI, clock: FakeClock
) -> None:
    started = clock()
    for n in range(100):
        await enqueue(bot, "busy", OutboxKind.SEND, text=f"消息 {n}")
    await enqueue(bot, "calm", OutboxKind.SEND, text="你好")
    await bot.settle()
    busy = fake.sent_to("busy")
    assert [m.content for m in busy] == [f"消息 {n}" for n in range(100)]
    assert not any(m.dropped for m in busy)
    assert most_in_any_minute(busy) <= 30
    # Three full windows and a bit: the bound is also tight (no needless waiting).
    assert 3 * 60 < busy[-1].at - started < 4 * 61
    # The other member was not held up by the busy one.
    calm = fake.sent_to("calm")
    assert [m.content for m in calm] == ["你好"]
    assert calm[0].at == started
    assert await bot.dead_or_pending() == 0


async def test_one_message_of_more_than_30_parts_is_paced_inside(
    bot: WeComRunner, fake: FakeWeComAPI
) -> None:
    photos = []
    for n in range(35):
        stored = await bot.files.put(b"\x89PNG\r\n\x1a\n" + bytes([n]) * 64)
        photos.append(stored.sha256)
    await enqueue(bot, "album", OutboxKind.SEND_PHOTO, photos=tuple(photos))
    await bot.settle()
    sent = fake.sent_to("album")
    assert [m.msgtype for m in sent] == ["image"] * 35
    assert not any(m.dropped for m in sent)
    assert most_in_any_minute(sent) <= 30
