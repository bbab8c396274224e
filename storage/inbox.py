"""The inbox: channel updates stored the moment they are fetched, before the channel is told
they arrived, and removed once handled. On start the bot hands whatever is left here to its
flows again; the event idempotency keys make a second handling a no-op."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from storage.base import Repo, padded
from storage.records import Channel, JsonDict
from storage.tables import inbox


class InboxRepo(Repo):
    __slots__ = ()

    async def add(self, channel: Channel, updates: Sequence[tuple[str, JsonDict]]) -> None:
        """Store fetched updates as (key, payload); a key already stored is left as it is."""
        if not updates:
            return

        def build() -> sa.Insert:
            insert = self._dialect_insert(inbox)
            return insert.on_conflict_do_nothing(index_elements=["channel", "key"])

        now = self._now()
        rows = [
            {"channel": channel, "key": key, "payload": payload, "received_at": now}
            for key, payload in updates
        ]
        await self._run_many(("inbox.add", self._ctx.dialect), build, rows)

    async def pending(self, channel: Channel) -> list[tuple[str, JsonDict]]:
        """What is still stored, oldest first."""
        stmt = (
            sa.select(inbox.c.key, inbox.c.payload)
            .where(inbox.c.channel == channel)
            .order_by(inbox.c.id)
        )
        return [(row.key, row.payload) for row in await self._all(stmt)]

    async def remove(self, channel: Channel, keys: Iterable[str]) -> int:
        """Forget handled updates; returns how many rows went."""
        wanted = sorted(set(keys))
        removed = 0
        for start in range(0, len(wanted), _CHUNK):
            chunk = padded(wanted[start : start + _CHUNK])
            size = len(chunk)
            params = {"b_channel": channel, **{f"b_key_{n}": key for n, key in enumerate(chunk)}}
            build = functools.partial(_remove, size)
            result = await self._run(("inbox.remove", size), build, params)
            removed += result.rowcount
        return removed


_CHUNK = 512


def _remove(size: int) -> sa.Delete:
    keys: list[sa.BindParameter[str]] = [sa.bindparam(f"b_key_{n}") for n in range(size)]
    return sa.delete(inbox).where(
        inbox.c.channel == sa.bindparam("b_channel"), inbox.c.key.in_(keys)
    )
