"""The audit log of admin actions and the company-wide settings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage.base import Repo, to_record, to_records
from storage.records import AuditEntry, JsonDict
from storage.tables import audit_log, settings


class AuditRepo(Repo):
    __slots__ = ()

    async def record(
        self, actor: str, action: str, *, target: str | None = None, details: JsonDict | None = None
    ) -> AuditEntry:
        """Append an entry; `actor` is e.g. "cli" or "person:12"."""
        row = await self._insert(
            audit_log,
            {
                "at": self._now(),
                "actor": actor,
                "action": action,
                "target": target,
                "details": details or {},
            },
        )
        return to_record(AuditEntry, row)

    async def recent(
        self,
        *,
        limit: int = 50,
        action: str | None = None,
        since: datetime | None = None,
        about: Sequence[str] | None = None,
    ) -> list[AuditEntry]:
        """Newest first; `about` keeps the entries whose actor or target is one of these
        (e.g. ["person:12"])."""
        stmt = sa.select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        if action is not None:
            stmt = stmt.where(audit_log.c.action == action)
        if since is not None:
            stmt = stmt.where(audit_log.c.at >= since)
        if about is not None:
            stmt = stmt.where(sa.or_(audit_log.c.actor.in_(about), audit_log.c.target.in_(about)))
        return to_records(AuditEntry, await self._all(stmt.limit(limit)))


class SettingsRepo(Repo):
    """Company settings as JSON values by key (grade bands, deadlines per severity, …)."""

    __slots__ = ()

    async def get(self, key: str) -> Any:
        """The value, or None when the key was never set."""
        result = await self._run(
            "settings.get",
            lambda: sa.select(settings.c.value).where(settings.c.key == sa.bindparam("b_key")),
            {"b_key": key},
        )
        return result.scalar()

    async def set(self, key: str, value: Any) -> None:
        now = self._now()
        stmt = (
            self._dialect_insert(settings)
            .values(key=key, value=value, updated_at=now)
            .on_conflict_do_update(index_elements=["key"], set_={"value": value, "updated_at": now})
        )
        await self._conn.execute(stmt)

    async def delete(self, key: str) -> bool:
        """Forget the key (its default applies again); False when it was not set."""
        result = await self._conn.execute(sa.delete(settings).where(settings.c.key == key))
        return bool(result.rowcount)

    async def all(self) -> dict[str, Any]:
        result = await self._run(
            "settings.all",
            lambda: sa.select(settings.c.key, settings.c.value).order_by(settings.c.key),
            {},
        )
        return {row.key: row.value for row in result.all()}
