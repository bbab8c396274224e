"""Statements run once with many parameter sets (Repo._run_many), and the outbox's batches
built on them: leasing a transaction's messages, marking sent, giving back, asking whether
chats wait. Same results on SQLite and PostgreSQL, one statement where there were many."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from storage.db import Database
from storage.errors import NotFound
from storage.outbox import SentMark
from storage.records import Channel, OutboxKind, OutboxStatus
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
