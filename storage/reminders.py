"""Reminders: stored due times that the scheduler's sweep claims atomically."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from storage.base import Repo, lease, lease_until, to_record, to_records
from storage.records import Reminder
from storage.tables import reminders

_OPEN = (reminders.c.sent_at.is_(None), reminders.c.cancelled_at.is_(None))


class ReminderRepo(Repo):
    __slots__ = ()

    async def schedule(
        self, task_id: int, person_id: int | None, kind: str, due_at: datetime
    ) -> Reminder | None:
        """Plan a reminder (person None: a rung of the escalation ladder). Planning a pending
        (task, person, kind, due_at) again is a no-op that returns None, so a policy can
        re-plan freely; planning one that was cancelled brings it back (a moved deadline may
        return to an earlier plan)."""
        rung = person_id is None

        def build() -> sa.Insert:
            insert = self._dialect_insert(reminders)
            return insert.on_conflict_do_update(
                index_elements=["task_id", "kind", "due_at"]
                if rung
                else ["task_id", "person_id", "kind", "due_at"],
                index_where=reminders.c.person_id.is_(None) if rung else None,
                set_={"cancelled_at": None, "claimed_by": None, "claim_expires_at": None},
                where=reminders.c.cancelled_at.is_not(None) & reminders.c.sent_at.is_(None),
            ).returning(reminders)

        values = {
            "task_id": task_id,
            "person_id": person_id,
            "kind": kind,
            "due_at": due_at,
            "attempts": 0,
            "created_at": self._now(),
        }
        result = await self._run(("reminders.schedule", self._ctx.dialect, rung), build, values)
        row = result.one_or_none()
        return to_record(Reminder, row) if row else None

    async def get(self, reminder_id: int) -> Reminder | None:
        row = await self._by_id(reminders, reminder_id)
        return to_record(Reminder, row) if row else None

    async def for_task(self, task_id: int) -> list[Reminder]:
        stmt = (
            sa.select(reminders)
            .where(reminders.c.task_id == task_id)
            .order_by(reminders.c.due_at, reminders.c.id)
        )
        return to_records(Reminder, await self._all(stmt))

    async def claim_due(
        self, now: datetime, *, limit: int, worker_id: str, lease_seconds: float
    ) -> list[Reminder]:
        """Lease up to `limit` unsent, uncancelled reminders due by `now`, earliest first.
        A lease that runs out (the worker died) makes the reminder claimable again; two
        workers never hold the same reminder."""
        due = (
            sa.select(reminders.c.id)
            .where(
                *_OPEN,
                reminders.c.due_at <= now,
                sa.or_(reminders.c.claim_expires_at.is_(None), reminders.c.claim_expires_at <= now),
            )
            .order_by(reminders.c.due_at, reminders.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = lease(reminders, due, worker_id=worker_id, expires=lease_until(now, lease_seconds))
        claimed = to_records(Reminder, (await self._conn.execute(stmt)).all())
        return sorted(claimed, key=lambda reminder: (reminder.due_at, reminder.id))

    async def mark_sent(self, reminder_id: int) -> bool:
        """Done (its message is in the outbox); False if it was cancelled or sent meanwhile."""
        stmt = (
            sa.update(reminders)
            .where(reminders.c.id == reminder_id, *_OPEN)
            .values(sent_at=self._now(), claimed_by=None, claim_expires_at=None)
        )
        return (await self._conn.execute(stmt)).rowcount > 0

    async def mark_sent_many(self, reminder_ids: Iterable[int]) -> set[int]:
        """Mark many as sent at once; returns the ids that were still open."""
        ids = sorted(set(reminder_ids))
        done: set[int] = set()
        for start in range(0, len(ids), 900):
            stmt = (
                sa.update(reminders)
                .where(reminders.c.id.in_(ids[start : start + 900]), *_OPEN)
                .values(sent_at=self._now(), claimed_by=None, claim_expires_at=None)
                .returning(reminders.c.id)
            )
            done.update(row[0] for row in (await self._conn.execute(stmt)).all())
        return done

    async def cancel(self, reminder_id: int) -> bool:
        stmt = (
            sa.update(reminders)
            .where(reminders.c.id == reminder_id, *_OPEN)
            .values(cancelled_at=self._now())
        )
        return (await self._conn.execute(stmt)).rowcount > 0

    async def cancel_for_task(self, task_id: int) -> int:
        """Cancel every pending reminder of a task (it was closed or re-planned)."""
        result = await self._run(
            "reminders.cancel_for_task",
            lambda: sa.update(reminders).where(
                reminders.c.task_id == sa.bindparam("b_task"), *_OPEN
            ),
            {"b_task": task_id, "cancelled_at": self._now()},
        )
        return result.rowcount
