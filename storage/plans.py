"""Inspection plans, their assigned inspectors and their occurrences (one per period and
site). Nothing is deleted: removing a plan deactivates it and ends its occurrences that are
still to come."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from storage.base import Repo, to_record, to_records
from storage.errors import NotFound
from storage.records import Occurrence, Plan, PlanEvery, PlanKind
from storage.tables import plan_inspectors, plan_occurrences, plans

_LIVE = plan_occurrences.c.ended_at.is_(None)


class PlanRepo(Repo):
    __slots__ = ()

    async def create(
        self,
        *,
        site_id: int | None,
        region_id: int | None,
        std_id: str,
        every: PlanEvery,
        window_from: int,
        window_to: int,
        kind: PlanKind,
        inspector_ids: Sequence[int],
    ) -> Plan:
        row = await self._insert(
            plans,
            {
                "site_id": site_id,
                "region_id": region_id,
                "std_id": std_id,
                "every": every,
                "window_from": window_from,
                "window_to": window_to,
                "kind": kind,
                "active": True,
                "created_at": self._now(),
                "removed_at": None,
            },
        )
        unique = tuple(dict.fromkeys(inspector_ids))
        for person_id in unique:
            await self._insert(plan_inspectors, {"plan_id": row.id, "person_id": person_id})
        return _with(to_record(Plan, row), unique)

    async def get(self, plan_id: int) -> Plan | None:
        row = await self._by_id(plans, plan_id)
        if row is None:
            return None
        found = await self._inspectors([plan_id])
        return _with(to_record(Plan, row), found.get(plan_id, ()))

    async def all(self, *, include_removed: bool = False) -> list[Plan]:
        stmt = sa.select(plans).order_by(plans.c.id)
        if not include_removed:
            stmt = stmt.where(plans.c.active.is_(True))
        records = to_records(Plan, await self._all(stmt))
        found = await self._inspectors(p.id for p in records)
        return [_with(p, found.get(p.id, ())) for p in records]

    async def remove(self, plan_id: int) -> int:
        """Deactivate the plan and end its occurrences whose window has not closed and that
        no inspection has taken up; returns how many were ended."""
        now = self._now()
        row = await self._update(
            plans,
            sa.and_(plans.c.id == plan_id, plans.c.active.is_(True)),
            {"active": False, "removed_at": now},
        )
        if row is None:
            raise NotFound(f"plan {plan_id}")
        stmt = (
            sa.update(plan_occurrences)
            .where(
                plan_occurrences.c.plan_id == plan_id,
                _LIVE,
                plan_occurrences.c.inspection_id.is_(None),
                plan_occurrences.c.window_end > now,
            )
            .values(ended_at=now)
        )
        return (await self._conn.execute(stmt)).rowcount

    async def _inspectors(self, plan_ids: Iterable[int]) -> dict[int, tuple[int, ...]]:
        ids = list(plan_ids)
        if not ids:
            return {}
        stmt = (
            sa.select(plan_inspectors.c.plan_id, plan_inspectors.c.person_id)
            .where(plan_inspectors.c.plan_id.in_(ids))
            .order_by(plan_inspectors.c.id)
        )
        found: dict[int, list[int]] = defaultdict(list)
        for plan_id, person_id in await self._all(stmt):
            found[plan_id].append(person_id)
        return {plan_id: tuple(people) for plan_id, people in found.items()}


def _with(plan: Plan, inspector_ids: Sequence[int]) -> Plan:
    return replace(plan, inspector_ids=tuple(inspector_ids))


class OccurrenceRepo(Repo):
    __slots__ = ()

    async def ensure(
        self,
        plan_id: int,
        site_id: int,
        period_start: date,
        window_start: datetime,
        window_end: datetime,
    ) -> None:
        """Create the occurrence of this period at this site unless it exists."""
        values = {
            "plan_id": plan_id,
            "site_id": site_id,
            "period_start": period_start,
            "window_start": window_start,
            "window_end": window_end,
            "created_at": self._now(),
        }
        stmt = self._insert_ignoring_conflict(
            plan_occurrences, ["plan_id", "site_id", "period_start"], values
        )
        await self._conn.execute(stmt)

    async def get(self, occurrence_id: int) -> Occurrence | None:
        row = await self._by_id(plan_occurrences, occurrence_id)
        return to_record(Occurrence, row) if row else None

    async def to_open(self, now: datetime) -> list[Occurrence]:
        """Occurrences whose window is open, not yet announced and not taken up."""
        return await self._where(
            plan_occurrences.c.opened_at.is_(None),
            plan_occurrences.c.inspection_id.is_(None),
            plan_occurrences.c.window_start <= now,
            plan_occurrences.c.window_end > now,
        )

    async def to_remind(self, now: datetime, before: timedelta) -> list[Occurrence]:
        """Occurrences closing within `before`, not reminded and not taken up."""
        return await self._where(
            plan_occurrences.c.reminded_at.is_(None),
            plan_occurrences.c.inspection_id.is_(None),
            plan_occurrences.c.window_end > now,
            plan_occurrences.c.window_end <= now + before,
        )

    async def to_close(self, now: datetime) -> list[Occurrence]:
        """Occurrences whose window has closed and whose closing was not handled."""
        return await self._where(
            plan_occurrences.c.closed_at.is_(None), plan_occurrences.c.window_end <= now
        )

    async def mark(self, occurrence_id: int, column: str) -> bool:
        """Set `opened_at`, `reminded_at` or `closed_at` once: False when it was set already
        (another process handled it), so its messages are not queued twice."""
        assert column in ("opened_at", "reminded_at", "closed_at")
        stmt = (
            sa.update(plan_occurrences)
            .where(plan_occurrences.c.id == occurrence_id, plan_occurrences.c[column].is_(None))
            .values({column: self._now()})
        )
        return (await self._conn.execute(stmt)).rowcount > 0

    async def candidates(
        self, site_id: int, std_id: str, person_id: int, now: datetime
    ) -> list[Occurrence]:
        """Open occurrences an inspection by this person of this standard at this site would
        fulfil: window open, plan active, the person assigned, not taken up yet."""
        stmt = (
            sa.select(plan_occurrences)
            .join(plans, plans.c.id == plan_occurrences.c.plan_id)
            .join(plan_inspectors, plan_inspectors.c.plan_id == plans.c.id)
            .where(
                plan_occurrences.c.site_id == site_id,
                plans.c.std_id == std_id,
                plans.c.active.is_(True),
                plan_inspectors.c.person_id == person_id,
                _LIVE,
                plan_occurrences.c.inspection_id.is_(None),
                plan_occurrences.c.window_start <= now,
                plan_occurrences.c.window_end > now,
            )
            .order_by(plan_occurrences.c.window_end, plan_occurrences.c.id)
        )
        return to_records(Occurrence, await self._all(stmt))

    async def take_up(self, occurrence_id: int, inspection_id: int) -> bool:
        """Pin the inspection to the occurrence; False when another already was."""
        stmt = (
            sa.update(plan_occurrences)
            .where(
                plan_occurrences.c.id == occurrence_id,
                plan_occurrences.c.inspection_id.is_(None),
                _LIVE,
            )
            .values(inspection_id=inspection_id)
        )
        return (await self._conn.execute(stmt)).rowcount > 0

    async def for_inspection(self, inspection_id: int) -> Occurrence | None:
        stmt = sa.select(plan_occurrences).where(plan_occurrences.c.inspection_id == inspection_id)
        row = await self._one(stmt)
        return to_record(Occurrence, row) if row else None

    async def in_periods(
        self, first: date, last: date, *, site_ids: Iterable[int] | None = None
    ) -> list[Occurrence]:
        """Occurrences (not ended) whose period starts between `first` and `last`."""
        clauses = [
            _LIVE,
            plan_occurrences.c.period_start >= first,
            plan_occurrences.c.period_start <= last,
        ]
        if site_ids is not None:
            clauses.append(plan_occurrences.c.site_id.in_(list(site_ids)))
        return await self._where(*clauses)

    async def _where(self, *clauses: sa.ColumnElement[bool]) -> list[Occurrence]:
        stmt = (
            sa.select(plan_occurrences)
            .where(_LIVE, *clauses)
            .order_by(plan_occurrences.c.window_start, plan_occurrences.c.id)
        )
        return to_records(Occurrence, await self._all(stmt))
