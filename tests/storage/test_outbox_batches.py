"""Statements run once with many parameter sets (Repo._run_many), and the outbox's batches
built on them: leasing a transaction's messages, marking sent, giving back, asking whether
chats wait. Same results on SQLite and PostgreSQL, one statement where there were many."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa

from storage.db import Database
from storage.errors import NotFound
from storage.outbox import SentMark
from storage.records import Channel, OutboxKind, OutboxMessage, OutboxStatus
from storage.tables import inbox, outbox
from tests.storage.helpers import FakeClock, Statements


def _set_by_id() -> sa.Update:
    return sa.update(outbox).where(outbox.c.id == sa.bindparam("b_id"))


async def test_one_statement_runs_with_many_parameter_sets(
    db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each set's values are stored as SQLAlchemy stores them (a time stays a time); the
    sets run in one call; the rows changed are counted where the driver counts them."""
    statements = Statements(db, monkeypatch)
    later = [clock.now + timedelta(minutes=n) for n in range(3)]
    async with db.transaction() as tx:
        queued = [
            await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": str(n)})
            for n in range(4)
        ]
        params = [
            {"b_id": message.id, "ref": f"r{n}", "not_before": at}
            for n, (message, at) in enumerate(zip(queued, later, strict=False))
        ]
        with statements.recording():
            changed = await tx.outbox._run_many("test.set_by_id", _set_by_id, params)
            assert await tx.outbox._run_many("test.set_by_id", _set_by_id, []) == 0
        assert changed == (3 if db.dialect == "sqlite" else None)
        stored = [await tx.outbox.get(message.id) for message in queued]
    assert statements.on("outbox") == [("UPDATE", 3)]
    assert [(m.ref, m.not_before) for m in stored if m is not None] == [
        ("r0", later[0]),
        ("r1", later[1]),
        ("r2", later[2]),
        (None, clock.now),
    ]


async def test_a_failing_parameter_set_raises_what_sqlalchemy_raises(
    db: Database, clock: FakeClock
) -> None:
    def insert() -> sa.Insert:
        return sa.insert(inbox)

    row = {"channel": Channel.TELEGRAM, "key": "k", "payload": {}, "received_at": clock.now}
    with pytest.raises(sa.exc.IntegrityError):
        async with db.transaction() as tx:
            await tx.inbox._run_many("test.insert_inbox", insert, [row, {**row}])
    async with db.read() as tx:
        assert await tx.connection.scalar(sa.select(sa.func.count()).select_from(inbox)) == 0


async def test_a_transactions_messages_are_leased_in_one_statement(
    db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements = Statements(db, monkeypatch)
    async with db.transaction() as tx:
        sends = [("A", "1"), ("B", "1"), ("A", "2"), ("A", "3"), ("B", "2")]
        queued = [
            await tx.outbox.enqueue(Channel.TELEGRAM, chat, OutboxKind.SEND, {"text": text})
            for chat, text in sends
        ]
        with statements.recording():
            leased = await tx.outbox.lease_queued(
                Channel.TELEGRAM, clock.now, limit=16, worker_id="w1", lease_seconds=60
            )
        assert [[m.id for m in chain] for chain in leased] == [
            [queued[0].id, queued[2].id, queued[3].id],
            [queued[1].id, queued[4].id],
        ]
        for chain in leased:
            for message in chain:
                assert await tx.outbox.get(message.id) == message
                assert (message.claimed_by, message.attempts) == ("w1", 1)
    assert statements.on("outbox") == [("SELECT", 1), ("SELECT", 1), ("UPDATE", 5)]


async def test_messages_added_are_written_leased_in_one_statement(
    db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a transaction adds is written when its worker takes it over: one INSERT of
    every message, those handed over leased as they are written (no UPDATE to lease them),
    ids ascending in the order added."""
    statements = Statements(db, monkeypatch)
    sends = [("A", "1"), ("B", "1"), ("A", "2"), ("A", "3"), ("B", "2")]
    async with db.transaction() as tx:
        with statements.recording():
            for chat, text in sends:
                tx.outbox.add(Channel.TELEGRAM, chat, OutboxKind.SEND, {"text": text})
            assert tx.queued_count(Channel.TELEGRAM) == 5
            leased = await tx.outbox.lease_queued(
                Channel.TELEGRAM, clock.now, limit=16, worker_id="w1", lease_seconds=60
            )
        assert [[(m.chat_id, m.payload["text"]) for m in chain] for chain in leased] == [
            [("A", "1"), ("A", "2"), ("A", "3")],
            [("B", "1"), ("B", "2")],
        ]
        ids = [m.id for m in sorted((m for chain in leased for m in chain), key=_added(sends))]
        assert ids == sorted(ids)
        for chain in leased:
            for message in chain:
                assert await tx.outbox.get(message.id) == message
                assert (message.claimed_by, message.attempts) == ("w1", 1)
                assert message.claim_expires_at == clock.now + timedelta(seconds=60)
    assert statements.on("outbox") == [("SELECT", 1), ("SELECT", 1), ("INSERT", 1)]
    async with db.transaction() as tx:
        claimed = await tx.outbox.claim(
            Channel.TELEGRAM, clock.now, limit=10, worker_id="w2", lease_seconds=60
        )
    assert claimed == []


def _added(sends: list[tuple[str, str]]) -> Callable[[OutboxMessage], int]:
    """The place of a leased message among `sends`, the (chat, text) pairs added."""
    return lambda message: sends.index((message.chat_id, message.payload["text"]))


async def test_a_chat_with_an_older_pending_message_gets_its_added_ones_unleased(
    db: Database, clock: FakeClock
) -> None:
    """An added message whose chat still has an older one pending is written as queued,
    for the claims; so is one not due yet, and one of another channel."""
    async with db.transaction() as tx:
        older = await tx.outbox.enqueue(Channel.TELEGRAM, "held", OutboxKind.SEND, {"text": "旧"})
    async with db.transaction() as tx:
        tx.outbox.add(Channel.TELEGRAM, "held", OutboxKind.SEND, {"text": "新"})
        tx.outbox.add(Channel.TELEGRAM, "free", OutboxKind.SEND, {"text": "自由"})
        later = clock.now + timedelta(hours=1)
        tx.outbox.add(Channel.TELEGRAM, "free", OutboxKind.SEND, {"text": "晚"}, not_before=later)
        tx.outbox.add(Channel.WECOM, "held", OutboxKind.SEND, {"text": "别的渠道"})
        assert tx.queued_channels == {Channel.TELEGRAM, Channel.WECOM}
        leased = await tx.outbox.lease_queued(
            Channel.TELEGRAM, clock.now, limit=16, worker_id="w1", lease_seconds=60
        )
        assert [[m.payload["text"] for m in chain] for chain in leased] == [["自由"]]
    async with db.read() as tx:
        rows = [await tx.outbox.get(older.id + n) for n in range(5)]
    assert [(m.payload["text"], m.claimed_by, m.attempts) for m in rows if m is not None] == [
        ("旧", None, 0),
        ("新", None, 0),
        ("自由", "w1", 1),
        ("晚", None, 0),
        ("别的渠道", None, 0),
    ]


async def test_what_was_added_is_written_before_the_outbox_is_read_and_at_commit(
    db: Database, clock: FakeClock
) -> None:
    """Whatever reads or changes the outbox sees the messages added before it, written
    in the order added; those still unwritten are written as the transaction commits, and
    nothing of a transaction that fails."""
    async with db.transaction() as tx:
        tx.outbox.add(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "1"})
        assert await tx.outbox.pending_count(Channel.TELEGRAM) == 1
        tx.outbox.add(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "2"}, ref="r2")
        third = await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "3"})
        tx.outbox.add(Channel.TELEGRAM, "B", OutboxKind.EDIT, {"text": "4"}, edit_of_ref="r2")
    with pytest.raises(RuntimeError):
        await _add_and_fail(db)
    async with db.read() as tx:
        rows = [await tx.outbox.get(third.id + n) for n in range(-2, 3)]
    stored = [(m.chat_id, m.payload["text"], m.ref, m.edit_of_ref) for m in rows if m]
    assert stored == [
        ("A", "1", None, None),
        ("A", "2", "r2", None),
        ("A", "3", None, None),
        ("B", "4", None, "r2"),
    ]
    assert all(m.status is OutboxStatus.PENDING and m.not_before == clock.now for m in rows if m)


async def _add_and_fail(db: Database) -> None:
    async with db.transaction() as tx:
        tx.outbox.add(Channel.TELEGRAM, "C", OutboxKind.SEND, {"text": "失败"})
        raise RuntimeError


async def test_marks_are_written_in_id_order_one_statement_per_shape(
    db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message whose payload delivery filled in is marked with it; the others keep
    theirs. Marks run in id order: a change of shape starts the next statement."""
    statements = Statements(db, monkeypatch)
    async with db.transaction() as tx:
        queued = [
            await tx.outbox.enqueue(Channel.TELEGRAM, f"c{n % 2}", OutboxKind.SEND, {"n": n})
            for n in range(5)
        ]
        await tx.outbox.claim(
            Channel.TELEGRAM, clock.now, limit=10, worker_id="w1", lease_seconds=60
        )
    ids = [message.id for message in queued]
    marks = [SentMark(i, f"m{i}", {"document": "f" * 64} if i == ids[2] else None) for i in ids]
    async with db.transaction() as tx:
        with statements.recording():
            await tx.outbox.mark_sent_many(reversed(marks))
        stored = [await tx.outbox.get(i) for i in ids]
    updates = [statement for statement in statements.on("outbox") if statement[0] == "UPDATE"]
    assert updates == [("UPDATE", 2), ("UPDATE", 1), ("UPDATE", 2)]
    assert len(statements.on("outbox")) == (3 if db.dialect == "sqlite" else 4)
    assert [m.payload for m in stored if m is not None] == [
        {"n": 0},
        {"n": 1},
        {"document": "f" * 64},
        {"n": 3},
        {"n": 4},
    ]
    assert [
        (m.status, m.channel_message_id, m.sent_at, m.claimed_by) for m in stored if m is not None
    ] == [(OutboxStatus.SENT, f"m{i}", clock.now, None) for i in ids]


async def test_marking_a_batch_with_a_missing_message_marks_none(
    db: Database, clock: FakeClock
) -> None:
    async with db.transaction() as tx:
        message = await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "1"})
    with pytest.raises(NotFound):
        async with db.transaction() as tx:
            await tx.outbox.mark_sent_many([SentMark(message.id, "m1"), SentMark(999, "m2")])
    async with db.read() as tx:
        kept = await tx.outbox.get(message.id)
    assert kept == message


async def test_messages_are_given_back_in_one_statement(
    db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements = Statements(db, monkeypatch)
    async with db.transaction() as tx:
        for n in range(3):
            await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": str(n)})
        first = (
            await tx.outbox.claim(
                Channel.TELEGRAM, clock.now, limit=10, worker_id="w1", lease_seconds=60
            )
        )[0]
        rest = await tx.outbox.claim_following(
            first, clock.now, limit=10, worker_id="w1", lease_seconds=60
        )
    ids = [first.id, *(m.id for m in rest)]
    async with db.transaction() as tx:
        with statements.recording():
            await tx.outbox.release_many(reversed(ids[1:]))
        released = [await tx.outbox.get(i) for i in ids[1:]]
        assert [(m.claimed_by, m.attempts) for m in released if m is not None] == [
            (None, 0),
            (None, 0),
        ]
        await tx.outbox.mark_sent_many([SentMark(ids[0], "m1")])
    assert [s for s in statements.on("outbox") if s[0] == "UPDATE"] == [("UPDATE", 2)]
    with pytest.raises(NotFound):
        async with db.transaction() as tx:
            await tx.outbox.release_many([ids[1], ids[0]])
    async with db.read() as tx:
        assert (await tx.outbox.get(ids[1])) == released[0]


async def test_whether_any_of_the_chats_waits_is_one_question(
    db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements = Statements(db, monkeypatch)
    async with db.transaction() as tx:
        await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "1"})
        await tx.outbox.enqueue(Channel.TELEGRAM, "B", OutboxKind.SEND, {"text": "1"})
        await tx.outbox.claim(
            Channel.TELEGRAM, clock.now, limit=1, worker_id="w1", lease_seconds=60
        )
        with statements.recording():
            assert await tx.outbox.any_waiting(Channel.TELEGRAM, ["A", "B", "C"])
        assert not await tx.outbox.any_waiting(Channel.TELEGRAM, ["A", "C"])
        assert await tx.outbox.any_waiting(Channel.TELEGRAM, ["C", "D", "E", "A", "B"])
        assert not await tx.outbox.any_waiting(Channel.TELEGRAM, ["C", "D", "E", "A", "F"])
        assert not await tx.outbox.any_waiting(Channel.WECOM, ["B"])
        assert not await tx.outbox.any_waiting(Channel.TELEGRAM, [])
    assert statements.on("outbox") == [("SELECT", 1)]


async def test_a_message_marked_twice_in_a_batch_is_marked_as_by_two_calls(
    db: Database, clock: FakeClock
) -> None:
    async with db.transaction() as tx:
        first = await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "1"})
        second = await tx.outbox.enqueue(Channel.TELEGRAM, "A", OutboxKind.SEND, {"text": "2"})
        await tx.outbox.mark_sent_many(
            [SentMark(first.id, "m1"), SentMark(second.id, "m2"), SentMark(first.id, "m1")]
        )
        stored = [await tx.outbox.get(message.id) for message in (first, second)]
    assert [(m.status, m.channel_message_id) for m in stored if m is not None] == [
        (OutboxStatus.SENT, "m1"),
        (OutboxStatus.SENT, "m2"),
    ]
