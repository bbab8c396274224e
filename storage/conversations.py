"""Conversation state per person and chat, saved with optimistic concurrency."""

from __future__ import annotations

import sqlalchemy as sa

from storage.base import Repo, to_record, to_records
from storage.errors import ConcurrentUpdate
from storage.records import Channel, Conversation, JsonDict
from storage.tables import conversations


class ConversationRepo(Repo):
    __slots__ = ()

    async def get(self, person_id: int, channel: Channel, chat_id: str) -> Conversation | None:
        params = {"b_person": person_id, "b_channel": channel, "b_chat": chat_id}
        result = await self._run(
            "conversations.get",
            lambda: sa.select(conversations).where(
                conversations.c.person_id == sa.bindparam("b_person"),
                conversations.c.channel == sa.bindparam("b_channel"),
                conversations.c.chat_id == sa.bindparam("b_chat"),
            ),
            params,
        )
        row = result.one_or_none()
        return to_record(Conversation, row) if row else None

    async def for_person(self, person_id: int) -> list[Conversation]:
        """All chats of the person, most recently active first (resume on another device)."""
        stmt = (
            sa.select(conversations)
            .where(conversations.c.person_id == person_id)
            .order_by(conversations.c.updated_at.desc(), conversations.c.id.desc())
        )
        return to_records(Conversation, await self._all(stmt))

    async def states(self) -> list[JsonDict]:
        """The state of every conversation (what the retention job must not forget)."""
        return [row.state for row in await self._all(sa.select(conversations.c.state))]

    async def save(
        self,
        person_id: int,
        channel: Channel,
        chat_id: str,
        state: JsonDict,
        *,
        expected_version: int,
    ) -> Conversation:
        """Store the state. `expected_version` is the version that was read (0 when there was
        no conversation yet); if another event saved in between, raise ConcurrentUpdate."""
        now = self._now()
        if expected_version == 0:
            stmt = self._insert_ignoring_conflict(
                conversations,
                ("person_id", "channel", "chat_id"),
                {
                    "person_id": person_id,
                    "channel": channel,
                    "chat_id": chat_id,
                    "state": state,
                    "version": 1,
                    "updated_at": now,
                },
            ).returning(conversations)
            row = (await self._conn.execute(stmt)).one_or_none()
        else:
            params = {
                "b_person": person_id,
                "b_channel": channel,
                "b_chat": chat_id,
                "b_version": expected_version,
                "state": state,
                "version": expected_version + 1,
                "updated_at": now,
            }
            row = (await self._run("conversations.save", _save_if_unchanged, params)).one_or_none()
        if row is None:
            raise ConcurrentUpdate(
                f"conversation of person {person_id} in {channel}:{chat_id} moved on"
            )
        return to_record(Conversation, row)


def _save_if_unchanged() -> sa.Update:
    return (
        sa.update(conversations)
        .where(
            conversations.c.person_id == sa.bindparam("b_person"),
            conversations.c.channel == sa.bindparam("b_channel"),
            conversations.c.chat_id == sa.bindparam("b_chat"),
            conversations.c.version == sa.bindparam("b_version"),
        )
        .returning(conversations)
    )
