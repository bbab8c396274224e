"""The inbox keeps fetched updates until they are removed, once per key, oldest first, and
per channel; a rolled-back store leaves nothing behind."""

from __future__ import annotations

import pytest

from storage.db import Database
from storage.records import Channel


async def test_updates_are_kept_once_in_order_until_removed(db: Database) -> None:
    first = {"update_id": 7, "message": {"text": "第一项 1分", "chat": {"id": 42}}}
    second = {"update_id": 8, "callback_query": {"data": "I:1:2"}}
    async with db.transaction() as tx:
        await tx.inbox.add(Channel.TELEGRAM, [("u7", first), ("u8", second)])
        await tx.inbox.add(Channel.WECOM, [("u7", {"other": "channel"})])
    async with db.transaction() as tx:
        await tx.inbox.add(Channel.TELEGRAM, [("u7", {"changed": True})])
        await tx.inbox.add(Channel.TELEGRAM, [])
    async with db.read() as tx:
        assert await tx.inbox.pending(Channel.TELEGRAM) == [("u7", first), ("u8", second)]
    async with db.transaction() as tx:
        assert await tx.inbox.remove(Channel.TELEGRAM, ["u7", "u7", "u99"]) == 1
    async with db.read() as tx:
        assert await tx.inbox.pending(Channel.TELEGRAM) == [("u8", second)]
        assert await tx.inbox.pending(Channel.WECOM) == [("u7", {"other": "channel"})]


async def _store_then_fail(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.inbox.add(Channel.TELEGRAM, [("u1", {"update_id": 1})])
        raise RuntimeError("crash before commit")


async def test_a_failed_transaction_stores_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError):
        await _store_then_fail(db)
    async with db.read() as tx:
        assert await tx.inbox.pending(Channel.TELEGRAM) == []


async def test_many_keys_are_removed_in_batches(db: Database) -> None:
    updates = [(f"u{n}", {"update_id": n}) for n in range(1200)]
    async with db.transaction() as tx:
        await tx.inbox.add(Channel.TELEGRAM, updates)
    async with db.transaction() as tx:
        assert await tx.inbox.remove(Channel.TELEGRAM, [key for key, _ in updates[:1100]]) == 1100
    async with db.read() as tx:
        assert [key for key, _ in await tx.inbox.pending(Channel.TELEGRAM)] == [
            f"u{n}" for n in range(1100, 1200)
        ]
