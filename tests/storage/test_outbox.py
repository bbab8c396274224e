"""Conversation state and the outbox: per-chat order, leases, retries, concurrent claims."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from storage.db import Database
from storage.errors import ConcurrentUpdate, NotFound
from storage.outbox import SentMark
from storage.records import Channel, OutboxKind, OutboxStatus
from tests.storage.helpers import FakeClock, World


async def test_conversation_versions(db: Database, world: World, clock: FakeClock) -> None:
    async with db.transaction() as tx:
        assert await tx.conversations.get(world.inspector, Channel.WEB, "c1") is None
        created = await tx.conversations.save(
            world.inspector,
            Channel.WEB,
            "c1",
            {"flow": "inspection", "item": 1},
            expected_version=0,
        )
        assert created.version == 1
        with pytest.raises(ConcurrentUpdate):
            await tx.conversations.save(world.inspector, Channel.WEB, "c1", {}, expected_version=0)
    clock.advance(minutes=1)
    async with db.transaction() as tx:
        updated = await tx.conversations.save(
            world.inspector,
            Channel.WEB,
            "c1",
            {"flow": "inspection", "item": 2},
            expected_version=1,
        )
        assert updated.version == 2
        assert updated.updated_at == clock.now
        with pytest.raises(ConcurrentUpdate):
            await tx.conversations.save(world.inspector, Channel.WEB, "c1", {}, expected_version=1)
        await tx.conversations.save(
            world.inspector, Channel.TELEGRAM, "99", {"flow": "idle"}, expected_version=0
        )
    async with db.read() as tx:
        stored = await tx.conversations.get(world.inspector, Channel.WEB, "c1")
        assert stored == updated
        assert stored.state == {"flow": "inspection", "item": 2}
        chats = await tx.conversations.for_person(world.inspector)
        assert [c.channel for c in chats] == [Channel.TELEGRAM, Channel.WEB]


async def test_a_transaction_knows_the_channels_it_queued_for(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.outbox.enqueue(Channel.WECOM, "zhangsan", OutboxKind.SEND, {"text": "一"})
        await tx.outbox.enqueue(Channel.WEB, "w1", OutboxKind.SEND, {"text": "二"})
        await tx.outbox.enqueue(Channel.WEB, "w2", OutboxKind.SEND, {"text": "三"})
    assert tx.queued_channels == {Channel.WECOM, Channel.WEB}
    async with db.transaction() as quiet:
        await quiet.settings.get("nothing")
    assert quiet.queued_channels == frozenset()


async def test_messages_queued_together_keep_their_order(
    db: Database, world: World, clock: FakeClock
) -> None:
    """More than one statement's worth (32), between single ones: each stored as given, its
    id after the one before it, and the transaction knows them queued."""
    many = [
        (Channel.TELEGRAM, "A" if n % 3 else "B", OutboxKind.SEND, {"text": f"{n}"}, None)
        for n in range(40)
    ]
    many[5] = (Channel.TELEGRAM, "B", OutboxKind.SEND_PHOTO, {"text": "5"}, world.manager)
    async with db.transaction() as tx:
        first = await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "前"})
        for channel, chat_id, kind, payload, person_id in many:
            tx.outbox.add(channel, chat_id, kind, payload, person_id=person_id)
        queued = await tx.outbox.flush()
        last = await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "后"})
        assert await tx.outbox.flush() == []
    assert tx.queued_count(Channel.TELEGRAM) == 42
    ids = [first.id, *(m.id for m in queued), last.id]
    assert ids == sorted(set(ids))
    async with db.read() as tx:
        for message, new in zip(queued, many, strict=True):
            stored = await tx.outbox.get(message.id)
            assert stored == message
            assert (stored.channel, stored.chat_id, stored.kind, stored.payload) == new[:4]
            assert stored.person_id == new[4]
            assert stored.status is OutboxStatus.PENDING and stored.not_before == clock.now


async def test_outbox_keeps_per_chat_order(db: Database, world: World, clock: FakeClock) -> None:
    async with db.transaction() as tx:
        a1 = await tx.outbox.enqueue(
            Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "item 1"}, ref="insp:1:item:1"
        )
        b1 = await tx.outbox.enqueue(Channel.TELEGRAM, "B", OutboxKind.SEND, {"text": "hi"})
        a2 = await tx.outbox.enqueue(
            Channel.TELEGRAM, "A", OutboxKind.EDIT, {"text": "✓ 1分"}, edit_of_ref="insp:1:item:1"
        )
        await tx.outbox.enqueue(Channel.WECOM, "A", OutboxKind.SEND, {"text": "other channel"})
        later = await tx.outbox.enqueue(
            Channel.TELEGRAM, "C", OutboxKind.SEND, {}, not_before=clock.now + timedelta(hours=1)
        )
        assert a1.status is OutboxStatus.PENDING
        assert a2.edit_of_ref == "insp:1:item:1"
        assert await tx.outbox.pending_count() == 5
        assert await tx.outbox.pending_count(Channel.TELEGRAM) == 4
    now = clock.now
    async with db.transaction() as tx:
        claimed = await tx.outbox.claim(
            Channel.TELEGRAM, now, limit=10, worker_id="w1", lease_seconds=30
        )
        assert [m.id for m in claimed] == [a1.id, b1.id]
        assert claimed[0].claimed_by == "w1"
        assert claimed[0].attempts == 1
        again = await tx.outbox.claim(
            Channel.TELEGRAM, now, limit=10, worker_id="w2", lease_seconds=30
        )
        assert again == []
        await tx.outbox.mark_sent_many([SentMark(a1.id, "555")])
        assert await tx.outbox.message_id_for_ref(Channel.TELEGRAM, "A", "insp:1:item:1") == "555"
        assert await tx.outbox.message_id_for_ref(Channel.TELEGRAM, "B", "insp:1:item:1") is None
        next_round = await tx.outbox.claim(
            Channel.TELEGRAM, now, limit=10, worker_id="w1", lease_seconds=30
        )
        assert [m.id for m in next_round] == [a2.id]
        await tx.outbox.mark_failed(a2.id, "Bad Gateway", retry_at=now + timedelta(seconds=20))
        await tx.outbox.mark_sent_many([SentMark(b1.id, None)])
        sent = await tx.outbox.get(a1.id)
        assert sent is not None
        assert sent.status is OutboxStatus.SENT
        assert sent.sent_at == now
        assert sent.claimed_by is None
        with pytest.raises(NotFound):
            await tx.outbox.mark_sent_many([SentMark(999, "x")])
    async with db.transaction() as tx:
        assert (
            await tx.outbox.claim(Channel.TELEGRAM, now, limit=10, worker_id="w", lease_seconds=30)
            == []
        )
        retry = await tx.outbox.claim(
            Channel.TELEGRAM, now + timedelta(seconds=20), limit=10, worker_id="w", lease_seconds=30
        )
        assert [m.id for m in retry] == [a2.id]
        assert retry[0].attempts == 2
        assert retry[0].last_error == "Bad Gateway"
        await tx.outbox.mark_failed(a2.id, "x" * 5000, retry_at=now, dead=True)
        dead = await tx.outbox.get(a2.id)
        assert dead is not None
        assert dead.status is OutboxStatus.DEAD
        assert len(dead.last_error or "") == 2000
        due_later = await tx.outbox.claim(
            Channel.TELEGRAM, now + timedelta(hours=1), limit=10, worker_id="w", lease_seconds=30
        )
        assert [m.id for m in due_later] == [later.id]


async def test_expired_lease_is_claimed_again(db: Database, clock: FakeClock) -> None:
    async with db.transaction() as tx:
        message = await tx.outbox.enqueue(Channel.WEB, "s1", OutboxKind.SEND, {"text": "x"})
        await tx.outbox.claim(Channel.WEB, clock.now, limit=1, worker_id="dead", lease_seconds=30)
        assert (
            await tx.outbox.claim(
                Channel.WEB,
                clock.now + timedelta(seconds=29),
                limit=1,
                worker_id="w",
                lease_seconds=30,
            )
            == []
        )
        reclaimed = await tx.outbox.claim(
            Channel.WEB, clock.now + timedelta(seconds=30), limit=1, worker_id="w", lease_seconds=30
        )
        assert [(m.id, m.claimed_by, m.attempts) for m in reclaimed] == [(message.id, "w", 2)]


async def test_deferred_message_waits_and_its_claim_is_not_an_attempt(
    db: Database, clock: FakeClock
) -> None:
    later = clock.now + timedelta(seconds=5)
    async with db.transaction() as tx:
        message = await tx.outbox.enqueue(Channel.WEB, "s1", OutboxKind.SEND, {"text": "x"})
        await tx.outbox.claim(Channel.WEB, clock.now, limit=1, worker_id="w", lease_seconds=30)
        await tx.outbox.defer(message.id, later)
        assert (
            await tx.outbox.claim(
                Channel.WEB, later - timedelta(seconds=1), limit=1, worker_id="w", lease_seconds=30
            )
            == []
        )
        again = await tx.outbox.claim(Channel.WEB, later, limit=1, worker_id="w", lease_seconds=30)
        assert [(m.id, m.attempts) for m in again] == [(message.id, 1)]
        await tx.outbox.mark_sent_many([SentMark(message.id, "9")])
        with pytest.raises(NotFound):
            await tx.outbox.defer(message.id, later)


async def test_concurrent_claims_never_share_a_message(db: Database, db_url: str) -> None:
    """Four senders in separate Database objects drain 120 messages in 12 chats: every
    message is delivered exactly once and each chat's messages go out in order."""
    async with db.transaction() as tx:
        for n in range(120):
            await tx.outbox.enqueue(Channel.TELEGRAM, f"chat{n % 12}", OutboxKind.SEND, {"n": n})
    now = db.now()
    senders = [Database(db_url) for _ in range(4)]
    log: list[tuple[str, int, str]] = []
    in_flight: dict[str, int] = {}

    async def sender(database: Database, worker: str) -> None:
        idle = 0
        while idle < 5:
            async with database.transaction() as tx:
                batch = await tx.outbox.claim(
                    Channel.TELEGRAM, now, limit=3, worker_id=worker, lease_seconds=300
                )
            idle = idle + 1 if not batch else 0
            for message in batch:
                assert message.chat_id not in in_flight, "two messages of one chat in flight"
                in_flight[message.chat_id] = message.id
                log.append((message.chat_id, message.id, worker))
            await asyncio.sleep(0.001)
            for message in batch:
                async with database.transaction() as tx:
                    await tx.outbox.mark_sent_many([SentMark(message.id, f"m{message.id}")])
                    # Before the commit: another sender may claim the chat's next message
                    # once it has committed (the commit's own awaits come after it).
                    del in_flight[message.chat_id]

    for database in senders:
        await database.open()
    try:
        await asyncio.wait_for(
            asyncio.gather(*(sender(d, f"w{i}") for i, d in enumerate(senders))), timeout=60
        )
    finally:
        for database in senders:
            await database.close()
    ids = [entry[1] for entry in log]
    assert len(ids) == 120
    assert len(set(ids)) == 120
    assert len({entry[2] for entry in log}) > 1
    for chat in {entry[0] for entry in log}:
        chat_ids = [entry[1] for entry in log if entry[0] == chat]
        assert chat_ids == sorted(chat_ids)
    async with db.read() as tx:
        assert await tx.outbox.pending_count() == 0


async def test_claim_following_leases_a_chats_due_messages_in_order(
    db: Database, world: World, clock: FakeClock
) -> None:
    async with db.transaction() as tx:
        texts = ("1", "2", "3")
        first, second, third = [
            await tx.outbox.enqueue(Channel.TELEGRAM, "7", OutboxKind.SEND, {"text": t})
            for t in texts
        ]
        later = await tx.outbox.enqueue(
            Channel.TELEGRAM,
            "7",
            OutboxKind.SEND,
            {"text": "later"},
            not_before=clock.now + timedelta(hours=1),
        )
        after_later = await tx.outbox.enqueue(Channel.TELEGRAM, "7", OutboxKind.SEND, {"text": "4"})
        other = await tx.outbox.enqueue(Channel.TELEGRAM, "8", OutboxKind.SEND, {"text": "x"})
    async with db.transaction() as tx:
        claimed = await tx.outbox.claim(
            Channel.TELEGRAM, clock.now, limit=10, worker_id="w1", lease_seconds=60
        )
        assert [m.id for m in claimed] == [first.id, other.id]
        following = await tx.outbox.claim_following(
            claimed[0], clock.now, limit=10, worker_id="w1", lease_seconds=60
        )
        # Up to the message that is not due yet, and not past it.
        assert [(m.id, m.claimed_by, m.attempts) for m in following] == [
            (second.id, "w1", 1),
            (third.id, "w1", 1),
        ]
        assert (
            await tx.outbox.claim_following(
                claimed[1], clock.now, limit=10, worker_id="w1", lease_seconds=60
            )
            == []
        )
    async with db.transaction() as tx:
        assert (
            await tx.outbox.claim(
                Channel.TELEGRAM, clock.now, limit=10, worker_id="w2", lease_seconds=60
            )
            == []
        )
        await tx.outbox.mark_sent_many([SentMark(first.id, "m1")])
        await tx.outbox.mark_sent_many([SentMark(second.id, "m2")])
        await tx.outbox.release_many([third.id])
        released = await tx.outbox.get(third.id)
        assert released is not None
        assert (released.claimed_by, released.attempts) == (None, 0)
        again = await tx.outbox.claim(
            Channel.TELEGRAM, clock.now, limit=10, worker_id="w2", lease_seconds=60
        )
        assert [(m.id, m.attempts) for m in again] == [(third.id, 1)]
        assert (
            await tx.outbox.claim_following(
                again[0], clock.now, limit=10, worker_id="w2", lease_seconds=60
            )
            == []
        )
        await tx.outbox.mark_sent_many([SentMark(third.id, "m3")])
        with pytest.raises(NotFound):
            await tx.outbox.release_many([third.id])
    clock.advance(hours=2)
    async with db.transaction() as tx:
        due = await tx.outbox.claim(
            Channel.TELEGRAM, clock.now, limit=10, worker_id="w1", lease_seconds=60
        )
        # Chat 8's message is offered again: w1's lease on it ran out unsent.
        assert [m.id for m in due] == [later.id, other.id]
        following = await tx.outbox.claim_following(
            due[0], clock.now, limit=1, worker_id="w1", lease_seconds=60
        )
        assert [m.id for m in following] == [after_later.id]


async def test_a_transaction_leases_what_it_queued_when_nothing_older_of_the_chat_is_pending(
    db: Database, clock: FakeClock
) -> None:
    """The hand-off to this process's sender: new messages leased inside the transaction
    that queued them, per chat, the due ones in order — unless an earlier message of the
    chat still has to go first."""
    alongside = frozenset({OutboxKind.ANSWER_CALLBACK, OutboxKind.EDIT})
    async with db.transaction() as tx:
        held = await tx.outbox.enqueue(Channel.TELEGRAM, "held", OutboxKind.SEND, {"text": "旧"})
        await tx.outbox.enqueue(
            Channel.TELEGRAM, "editing", OutboxKind.EDIT, {"text": "✓"}, edit_of_ref="i1"
        )
        await tx.outbox.enqueue(Channel.TELEGRAM, "answered", OutboxKind.ANSWER_CALLBACK, {})
    async with db.transaction() as tx:
        first = await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "1"})
        second = await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "2"})
        await tx.outbox.enqueue(
            Channel.TELEGRAM, "A", OutboxKind.SEND, {}, not_before=clock.now + timedelta(hours=1)
        )
        await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "4"})
        await tx.outbox.enqueue(Channel.TELEGRAM, "held", OutboxKind.SEND, {"text": "新"})
        again = await tx.outbox.enqueue(
            Channel.TELEGRAM, "editing", OutboxKind.EDIT, {"text": "✓✓"}, edit_of_ref="i1"
        )
        other_ref = await tx.outbox.enqueue(
            Channel.TELEGRAM, "answered", OutboxKind.EDIT, {"text": "✓"}, edit_of_ref="i2"
        )
        await tx.outbox.enqueue(Channel.WECOM, "A", OutboxKind.SEND, {"text": "别的渠道"})
        leased = await tx.outbox.lease_queued(
            Channel.TELEGRAM,
            clock.now,
            limit=16,
            worker_id="w1",
            lease_seconds=60,
            alongside=alongside,
        )
        # Chat A up to the message not due yet; "held" waits for its older send; a second
        # edit of i1 waits for the first; an earlier callback answer holds nothing back.
        assert [[m.id for m in chain] for chain in leased] == [
            [first.id, second.id],
            [other_ref.id],
        ]
        for chain in leased:
            for message in chain:
                stored = await tx.outbox.get(message.id)
                assert stored == message
                assert (message.claimed_by, message.attempts) == ("w1", 1)
                assert message.claim_expires_at == clock.now + timedelta(seconds=60)
        assert await tx.outbox.get(again.id) == again  # not leased
        limited = await tx.outbox.lease_queued(
            Channel.WECOM, clock.now, limit=0, worker_id="w2", lease_seconds=60
        )
        assert limited == []
    async with db.transaction() as tx:
        claimed = await tx.outbox.claim(
            Channel.TELEGRAM, clock.now, limit=10, worker_id="w3", lease_seconds=60
        )
        # Only the older messages: the leased chats are nobody else's to claim.
        assert sorted(m.chat_id for m in claimed) == ["answered", "editing", "held"]
        assert held.id in {m.id for m in claimed}


async def test_a_chat_is_waiting_while_a_pending_message_has_no_lease(
    db: Database, clock: FakeClock
) -> None:
    async with db.transaction() as tx:
        await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "1"})
        assert await tx.outbox.any_waiting(Channel.TELEGRAM, ["A"])
        assert not await tx.outbox.any_waiting(Channel.TELEGRAM, ["B"])
        assert not await tx.outbox.any_waiting(Channel.WECOM, ["A"])
        claimed = await tx.outbox.claim(
            Channel.TELEGRAM, clock.now, limit=10, worker_id="w1", lease_seconds=60
        )
        assert not await tx.outbox.any_waiting(Channel.TELEGRAM, ["A"])
        await tx.outbox.mark_sent_many([SentMark(claimed[0].id, "m1")])
        assert not await tx.outbox.any_waiting(Channel.TELEGRAM, ["A"])


async def test_forget_deletes_old_delivered_rows_of_one_kind_and_keeps_named_and_pending_ones(
    db: Database, clock: FakeClock
) -> None:
    tg, answer, send = Channel.TELEGRAM, OutboxKind.ANSWER_CALLBACK, OutboxKind.SEND
    async with db.transaction() as tx:
        answers = [
            await tx.outbox.enqueue(tg, "7", answer, {"callback_id": f"c{n}"}) for n in range(4)
        ]
        named = await tx.outbox.enqueue(tg, "7", send, {"text": "第1项"}, ref="i1.1.1")
        plain = await tx.outbox.enqueue(tg, "7", send, {"text": "好的"})
        web = await tx.outbox.enqueue(Channel.WEB, "7", answer, {"callback_id": "w"})
        for message in (*answers[:2], named, plain, web):
            await tx.outbox.mark_sent_many([SentMark(message.id, f"m{message.id}")])
        await tx.outbox.mark_failed(
            answers[2].id, "query is too old", retry_at=clock.now, dead=True
        )
    clock.advance(days=2)
    async with db.transaction() as tx:
        recent = await tx.outbox.enqueue(tg, "7", answer, {"callback_id": "new"})
        await tx.outbox.mark_sent_many([SentMark(recent.id, None)])
    before = clock.now - timedelta(days=1)
    async with db.transaction() as tx:
        assert await tx.outbox.forget(tg, answer, before, limit=2) == (2, 0)
        assert await tx.outbox.forget(tg, answer, before, limit=2) == (1, 0)
        assert await tx.outbox.forget(tg, answer, before, limit=2) == (0, 0)
        assert await tx.outbox.forget(tg, send, before, keep_refs={"i1.1.1"}, limit=2) == (1, 1)
        assert await tx.outbox.forget(tg, send, before, keep_refs={"i1.1.1"}, skip=1) == (0, 0)
    async with db.read() as tx:
        left = {m.id for m in [answers[3], named, plain, web, recent] if await tx.outbox.get(m.id)}
        assert left == {answers[3].id, named.id, web.id, recent.id}  # pending, named, web, new
        assert await tx.outbox.message_id_for_ref(tg, "7", "i1.1.1") == f"m{named.id}"
        assert await tx.outbox.pending_count(tg) == 1
