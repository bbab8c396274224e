"""Inspection plans and their occurrences."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from storage.db import Database
from storage.errors import NotFound
from storage.records import PlanEvery, PlanKind
from tests.storage.helpers import FakeClock, World


async def _plan(db: Database, world: World) -> int:
    async with db.transaction() as tx:
        plan = await tx.plans.create(
            site_id=world.site_a,
            region_id=None,
            std_id="culture",
            every=PlanEvery.WEEK,
            window_from=1,
            window_to=5,
            kind=PlanKind.SELF,
            inspector_ids=[world.inspector, world.inspector],
        )
    assert plan.inspector_ids == (world.inspector,)
    return plan.id


async def test_plans_create_list_remove(db: Database, world: World, clock: FakeClock) -> None:
    plan_id = await _plan(db, world)
    async with db.transaction() as tx:
        [listed] = await tx.plans.all()
        assert (listed.id, listed.every, listed.kind) == (plan_id, PlanEvery.WEEK, PlanKind.SELF)
        now = clock()
        await tx.occurrences.ensure(
            plan_id, world.site_a, date(2026, 1, 5), now, now + timedelta(days=2)
        )
        await tx.occurrences.ensure(
            plan_id, world.site_a, date(2026, 1, 5), now, now + timedelta(days=2)
        )
        [occurrence] = await tx.occurrences.to_open(now)
        assert await tx.plans.remove(plan_id) == 1
        assert await tx.plans.all() == []
        removed = await tx.plans.get(plan_id)
        assert removed is not None and not removed.active and removed.removed_at == now
        ended = await tx.occurrences.get(occurrence.id)
        assert ended is not None and ended.ended_at == now
        assert await tx.occurrences.to_open(now) == []
        with pytest.raises(NotFound):
            await tx.plans.remove(plan_id)


async def test_occurrence_notices_are_marked_once_and_taken_up_once(
    db: Database, world: World, clock: FakeClock
) -> None:
    plan_id = await _plan(db, world)
    now = clock()
    async with db.transaction() as tx:
        await tx.occurrences.ensure(
            plan_id,
            world.site_a,
            date(2026, 1, 5),
            now - timedelta(hours=1),
            now + timedelta(hours=20),
        )
        [occurrence] = await tx.occurrences.to_open(now)
        assert await tx.occurrences.to_remind(now, timedelta(days=1)) == [occurrence]
        assert await tx.occurrences.mark(occurrence.id, "opened_at")
        assert not await tx.occurrences.mark(occurrence.id, "opened_at")
        assert await tx.occurrences.to_open(now) == []
        [candidate] = await tx.occurrences.candidates(world.site_a, "culture", world.inspector, now)
        assert await tx.occurrences.candidates(world.site_a, "culture", world.manager, now) == []
        assert await tx.occurrences.candidates(world.site_b, "culture", world.inspector, now) == []
        inspection = await tx.inspections.start(world.site_a, world.standard, world.inspector)
        assert await tx.occurrences.take_up(candidate.id, inspection.id)
        assert not await tx.occurrences.take_up(candidate.id, inspection.id)
        assert await tx.occurrences.for_inspection(inspection.id) is not None
        assert await tx.occurrences.to_remind(now, timedelta(days=1)) == []
        assert await tx.occurrences.to_close(now) == []
        assert [o.id for o in await tx.occurrences.to_close(now + timedelta(days=1))] == [
            occurrence.id
        ]
        assert await tx.occurrences.mark(occurrence.id, "closed_at")
        assert await tx.occurrences.to_close(now + timedelta(days=1)) == []
        assert len(await tx.occurrences.in_periods(date(2026, 1, 1), date(2026, 1, 31))) == 1
