"""Project group chats (项目群) bound to a site or a region, and the codes that bind them."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from storage.base import Repo, to_record, to_records
from storage.records import ChatGroup, GroupCode, GroupKind
from storage.tables import chat_groups, group_codes

CODE_DAYS = 7
"""How long a group binding code stays valid."""


class GroupRepo(Repo):
    __slots__ = ()

    async def add(
        self,
        kind: GroupKind,
        *,
        site_id: int | None = None,
        region_id: int | None = None,
        chat_id: str | None = None,
        webhook_key: str | None = None,
        title: str = "",
    ) -> ChatGroup:
        """Bind a group to the site (or region); the group of that kind bound before is
        removed (one of each kind per site or region)."""
        if (site_id is None) == (region_id is None):
            raise ValueError("a group belongs to exactly one site or one region")
        now = self._now()
        previous = await self.current(kind, site_id=site_id, region_id=region_id)
        if previous is not None:
            await self.remove(previous.id)
        row = await self._insert(
            chat_groups,
            {
                "site_id": site_id,
                "region_id": region_id,
                "kind": kind,
                "chat_id": chat_id,
                "webhook_key": webhook_key,
                "title": title,
                "active": True,
                "created_at": now,
                "inactive_at": None,
                "removed_at": None,
                "fixes_posted_until": now,
            },
        )
        return to_record(ChatGroup, row)

    async def get(self, group_id: int) -> ChatGroup | None:
        row = await self._by_id(chat_groups, group_id)
        return to_record(ChatGroup, row) if row else None

    async def current(
        self, kind: GroupKind, *, site_id: int | None = None, region_id: int | None = None
    ) -> ChatGroup | None:
        """The site's (or region's) group of `kind` that is not removed (it may be inactive)."""
        scope = (
            chat_groups.c.site_id == site_id
            if site_id is not None
            else chat_groups.c.region_id == region_id
        )
        stmt = sa.select(chat_groups).where(
            scope, chat_groups.c.kind == kind, chat_groups.c.removed_at.is_(None)
        )
        row = await self._one(stmt)
        return to_record(ChatGroup, row) if row else None

    async def active_for(
        self, *, site_id: int | None = None, region_id: int | None = None
    ) -> list[ChatGroup]:
        """The active groups of a site (or a region), Telegram first."""
        scope = (
            chat_groups.c.site_id == site_id
            if site_id is not None
            else chat_groups.c.region_id == region_id
        )
        stmt = (
            sa.select(chat_groups)
            .where(scope, chat_groups.c.active.is_(True))
            .order_by(chat_groups.c.kind.desc(), chat_groups.c.id)
        )
        return to_records(ChatGroup, await self._all(stmt))

    async def by_chat(self, kind: GroupKind, chat_id: str) -> list[ChatGroup]:
        """The groups (not removed) that are this chat: one chat may serve several sites."""
        stmt = (
            sa.select(chat_groups)
            .where(
                chat_groups.c.kind == kind,
                chat_groups.c.chat_id == chat_id,
                chat_groups.c.removed_at.is_(None),
            )
            .order_by(chat_groups.c.id)
        )
        return to_records(ChatGroup, await self._all(stmt))

    async def all(self, *, include_removed: bool = False) -> list[ChatGroup]:
        stmt = sa.select(chat_groups).order_by(chat_groups.c.id)
        if not include_removed:
            stmt = stmt.where(chat_groups.c.removed_at.is_(None))
        return to_records(ChatGroup, await self._all(stmt))

    async def all_active(self) -> list[ChatGroup]:
        stmt = (
            sa.select(chat_groups).where(chat_groups.c.active.is_(True)).order_by(chat_groups.c.id)
        )
        return to_records(ChatGroup, await self._all(stmt))

    async def deactivate(self, group_id: int) -> bool:
        """Mark an active group inactive (it removed the bot); False if it was not active."""
        stmt = (
            sa.update(chat_groups)
            .where(chat_groups.c.id == group_id, chat_groups.c.active.is_(True))
            .values(active=False, inactive_at=self._now())
        )
        return (await self._conn.execute(stmt)).rowcount == 1

    async def remove(self, group_id: int) -> bool:
        """Unbind a group (kept for the record, never posted to again)."""
        stmt = (
            sa.update(chat_groups)
            .where(chat_groups.c.id == group_id, chat_groups.c.removed_at.is_(None))
            .values(active=False, removed_at=self._now())
        )
        return (await self._conn.execute(stmt)).rowcount == 1

    async def fixes_posted(self, group_id: int, until: datetime) -> None:
        await self._update_by_id(chat_groups, group_id, {"fixes_posted_until": until})

    async def create_code(
        self, *, site_id: int | None = None, region_id: int | None = None
    ) -> GroupCode:
        now = self._now()
        row = await self._insert(
            group_codes,
            {
                "code": secrets.token_hex(4).upper(),
                "site_id": site_id,
                "region_id": region_id,
                "created_at": now,
                "expires_at": now + timedelta(days=CODE_DAYS),
                "used_at": None,
            },
        )
        return to_record(GroupCode, row)

    async def redeem_code(self, code: str) -> GroupCode | None:
        """Use a code once; None if it is unknown, used or expired."""
        stmt = (
            sa.update(group_codes)
            .where(
                group_codes.c.code == code.strip().upper(),
                group_codes.c.used_at.is_(None),
                group_codes.c.expires_at > self._now(),
            )
            .values(used_at=self._now())
            .returning(group_codes)
        )
        row = (await self._conn.execute(stmt)).one_or_none()
        return to_record(GroupCode, row) if row else None
