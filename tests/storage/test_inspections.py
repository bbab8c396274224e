"""Standards, inspections, answers with history, notes and evidence metadata."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from storage.db import Database
from storage.errors import NotFound, StateConflict
from storage.records import (
    AnswerMark,
    Channel,
    EvidenceKind,
    EvidenceRole,
    InspectionStatus,
    ItemLoss,
    ItemProgress,
    TaskStatus,
)
from storage.tables import standards as standards_table
from tests.storage.helpers import FakeClock, World, column, snapshot

TODAY = date(2025, 3, 1)


async def test_standard_ensure_is_idempotent_and_versions_are_kept(
    db: Database, world: World
) -> None:
    async with db.transaction() as tx:
        same = await tx.standards.ensure("culture", "1", "社区文化管理", "h1", snapshot())
        assert same.id == world.standard
        edited = snapshot(title="社区文化管理（修订）", items=4)
        newer = await tx.standards.ensure("culture", "2", "社区文化管理（修订）", "h2", edited)
        assert newer.id != world.standard
        other = await tx.standards.ensure("cleaning", "1", "保洁", "h1", snapshot("保洁"))
    async with db.read() as tx:
        latest = await tx.standards.latest("culture")
        assert latest is not None
        assert latest.id == newer.id
        assert latest.snapshot == edited
        assert await column(tx, standards_table, "id", std_id="culture") == [
            world.standard,
            newer.id,
        ]
        assert await column(tx, standards_table, "id", std_id="cleaning") == [other.id]
        assert await tx.standards.latest("missing") is None
        assert await tx.standards.content_hash(newer.id) == "h2"
        assert await tx.standards.content_hash(999) is None


async def test_edited_standard_leaves_pinned_snapshot_untouched(db: Database, world: World) -> None:
    async with db.transaction() as tx:
        inspection = await tx.inspections.start(world.site_a, world.standard, world.inspector)
        await tx.inspections.complete(inspection.id, score=3, max_score=3)
    async with db.transaction() as tx:
        changed = snapshot(title="改过的标准", items=5)
        await tx.standards.ensure("culture", "1", "改过的标准", "h-changed", changed)
    async with db.read() as tx:
        pinned = await tx.inspections.get(inspection.id)
        assert pinned is not None
        stored = await tx.standards.get(pinned.standard_id)
        assert stored is not None
        assert stored.snapshot == snapshot()
        assert stored.content_hash == "h1"


async def test_inspection_lifecycle(db: Database, world: World, clock: FakeClock) -> None:
    async with db.transaction() as tx:
        started = await tx.inspections.start(
            world.site_a, world.standard, world.inspector, channel=Channel.TELEGRAM
        )
        assert started.status is InspectionStatus.IN_PROGRESS
        assert started.std_id == "culture"
        assert started.started_at == clock.now
        with pytest.raises(NotFound):
            await tx.inspections.start(world.site_a, 999, world.inspector)
    clock.advance(minutes=5)
    async with db.transaction() as tx:
        moved = await tx.inspections.move_cursor(started.id, 2)
        assert moved.cursor_item_no == 2
        assert moved.updated_at == clock.now
        paused = await tx.inspections.pause(started.id)
        assert paused.status is InspectionStatus.PAUSED
        assert paused.paused_at == clock.now
        with pytest.raises(StateConflict):
            await tx.inspections.pause(started.id)
        assert [i.id for i in await tx.inspections.open_for_inspector(world.inspector)] == [
            started.id
        ]
        resumed = await tx.inspections.resume(started.id, channel=Channel.WEB)
        assert resumed.status is InspectionStatus.IN_PROGRESS
        assert resumed.channel is Channel.WEB
        assert resumed.cursor_item_no == 2
        assert [i.id for i in await tx.inspections.open_for_site(world.site_a)] == [started.id]
        done = await tx.inspections.complete(started.id, score=2.5, max_score=3)
        assert done.status is InspectionStatus.COMPLETED
        assert (done.score, done.max_score, done.completed_at) == (2.5, 3, clock.now)
        with pytest.raises(StateConflict):
            await tx.inspections.cancel(started.id)
        with pytest.raises(NotFound):
            await tx.inspections.pause(999)
        assert await tx.inspections.open_for_inspector(world.inspector) == []
        other = await tx.inspections.start(world.site_b, world.standard, world.inspector)
        cancelled = await tx.inspections.cancel(other.id)
        assert cancelled.status is InspectionStatus.CANCELLED
        assert cancelled.cancelled_at == clock.now


async def test_answer_edit_keeps_history(db: Database, world: World, clock: FakeClock) -> None:
    async with db.transaction() as tx:
        inspection = await tx.inspections.start(world.site_a, world.standard, world.inspector)
        first = await tx.answers.set(
            inspection.id,
            3,
            answered_by=world.inspector,
            score=0.5,
            max_score=1,
            level_label="有回访制度",
            details={"samples": [True, False, True]},
        )
        await tx.answers.set(
            inspection.id, 1, answered_by=world.inspector, score=1, max_score=1, level_label="有"
        )
    first_at = clock.now
    clock.advance(minutes=10)
    async with db.transaction() as tx:
        second = await tx.answers.set(
            inspection.id,
            3,
            answered_by=world.manager,
            score=None,
            max_score=1,
            not_applicable=True,
        )
    assert first.revision == 1
    assert second.revision == 2
    assert second.id == first.id
    async with db.read() as tx:
        current = await tx.answers.get(inspection.id, 3)
        assert current == second
        assert current.not_applicable
        assert current.score is None
        assert current.answered_by == world.manager
        history = await tx.answers.history(inspection.id, 3)
        assert [(h.revision, h.score, h.not_applicable, h.answered_by) for h in history] == [
            (1, 0.5, False, world.inspector),
            (2, None, True, world.manager),
        ]
        assert history[0].details == {"samples": [True, False, True]}
        assert history[0].level_label == "有回访制度"
        assert history[0].answered_at == first_at
        assert history[1].answered_at == clock.now
        assert [a.item_no for a in await tx.answers.for_inspection(inspection.id)] == [1, 3]
        marks = await tx.answers.marks(inspection.id)
        assert [(m.item_no, m.score, m.not_applicable, m.level_label) for m in marks] == [
            (1, 1.0, False, "有"),
            (3, None, True, None),
        ]
        assert await tx.answers.get(inspection.id, 2) is None


async def test_notes_and_evidence_per_item(db: Database, world: World) -> None:
    async with db.transaction() as tx:
        inspection = await tx.inspections.start(world.site_a, world.standard, world.inspector)
        note = await tx.notes.add(
            "回访记录缺失", created_by=world.inspector, inspection_id=inspection.id, item_no=2
        )
        await tx.notes.add(
            "第二条", created_by=world.inspector, inspection_id=inspection.id, item_no=2
        )
        with pytest.raises(ValueError, match="attach"):
            await tx.notes.add("nowhere", created_by=world.inspector)
        with pytest.raises(ValueError, match="both"):
            await tx.notes.add("half", created_by=world.inspector, inspection_id=inspection.id)
        photos = [
            await tx.evidence.add(
                f"{n:064x}",
                1000 + n,
                mime="image/jpeg",
                kind=EvidenceKind.PHOTO,
                created_by=world.inspector,
                channel=Channel.TELEGRAM,
                channel_file_ref=f"file-{n}",
                caption="楼道堆物",
                inspection_id=inspection.id,
                item_no=item,
            )
            for n, item in ((1, 2), (2, 2), (3, 5))
        ]
        await tx.evidence.add(
            "f" * 64,
            10,
            mime="application/pdf",
            kind=EvidenceKind.DOCUMENT,
            created_by=world.inspector,
            inspection_id=inspection.id,
            item_no=5,
        )
    async with db.read() as tx:
        assert [n.text for n in await tx.notes.for_item(inspection.id, 2)] == [
            "回访记录缺失",
            "第二条",
        ]
        assert next(n.id for n in await tx.notes.for_inspection(inspection.id)) == note.id
        assert await tx.evidence.count_by_item(inspection.id) == {2: 2, 5: 2}
        assert await tx.notes.count_by_item(inspection.id) == {2: 2}
        on_two = await tx.evidence.for_item(inspection.id, 2)
        assert on_two == photos[:2]
        assert on_two[0].role is EvidenceRole.FINDING
        assert on_two[0].kind is EvidenceKind.PHOTO
        assert len(await tx.evidence.for_inspection(inspection.id)) == 4
        assert await tx.evidence.get(photos[2].id) == photos[2]
        assert await tx.evidence.get(999) is None


async def test_latest_inspections_and_scores(db: Database, world: World, clock: FakeClock) -> None:
    finished = []
    for site, score in (
        (world.site_a, 50),
        (world.site_a, 60),
        (world.site_b, 70),
        (world.site_a, 80),
    ):
        async with db.transaction() as tx:
            inspection = await tx.inspections.start(site, world.standard, world.inspector)
            finished.append(
                await tx.inspections.complete(inspection.id, score=score, max_score=100)
            )
        clock.advance(days=1)
    async with db.transaction() as tx:
        other_std = await tx.standards.ensure("cleaning", "1", "保洁", "hc", snapshot("保洁"))
        other = await tx.inspections.start(world.site_a, other_std.id, world.inspector)
        await tx.inspections.complete(other.id, score=10, max_score=100)
        await tx.inspections.start(world.site_b, world.standard, world.inspector)
    async with db.read() as tx:
        latest = await tx.inspections.latest_completed(world.site_a, "culture")
        assert [i.score for i in latest] == [80, 60]
        assert [
            i.score for i in await tx.inspections.latest_completed(world.site_b, "culture")
        ] == [70]
        scores = await tx.inspections.latest_scores([world.site_a, world.site_b], std_id="culture")
        assert {site: i.score for site, i in scores.items()} == {world.site_a: 80, world.site_b: 70}
        any_std = await tx.inspections.latest_scores([world.site_a, world.site_b])
        assert any_std[world.site_a].id == other.id
        done_at = [i.completed_at for i in finished]
        assert None not in done_at
        window = await tx.inspections.completed_between(done_at[1], done_at[3])  # type: ignore[arg-type]
        assert [i.id for i in window] == [finished[1].id, finished[2].id]
        only_b = await tx.inspections.completed_between(
            done_at[0],  # type: ignore[arg-type]
            clock.now + timedelta(days=1),
            site_ids=[world.site_b],
        )
        assert [i.id for i in only_b] == [finished[2].id]


async def test_the_inspection_completed_before_another(
    db: Database, world: World, clock: FakeClock
) -> None:
    """Same site and standard, completed earlier; at the same moment the lower id is
    earlier (what a report compares with)."""
    finished = []
    for site, std, advance in (
        (world.site_a, world.standard, 1),
        (world.site_b, world.standard, 1),
        (world.site_a, None, 0),
        (world.site_a, world.standard, 0),
        (world.site_a, world.standard, 0),
    ):
        async with db.transaction() as tx:
            if std is None:
                std = (await tx.standards.ensure("cleaning", "1", "保洁", "hc", snapshot())).id
            inspection = await tx.inspections.start(site, std, world.inspector)
            finished.append(await tx.inspections.complete(inspection.id, score=1, max_score=1))
        clock.advance(days=advance)
    async with db.transaction() as tx:
        await tx.inspections.start(world.site_a, world.standard, world.inspector)
    first, _, _, same_moment, last = finished
    assert same_moment.completed_at == finished[2].completed_at

    async def before(inspection_id: int) -> int | None:
        async with db.read() as tx:
            this = await tx.inspections.get(inspection_id)
            assert this is not None and this.completed_at is not None
            found = await tx.inspections.completed_before(
                this.site_id, this.std_id, this.completed_at, this.id
            )
        return None if found is None else found.id

    assert await before(last.id) == same_moment.id
    assert await before(same_moment.id) == first.id
    assert await before(first.id) is None
    assert await before(finished[1].id) is None
    async with db.transaction() as tx:
        again = await tx.inspections.start(world.site_a, world.standard, world.inspector)
        twin = await tx.inspections.complete(again.id, score=1, max_score=1)
    assert twin.completed_at == last.completed_at
    assert await before(twin.id) == last.id
    assert await before(last.id) == same_moment.id


async def test_the_fixes_of_an_inspections_tasks_in_one_read(db: Database, world: World) -> None:
    async with db.transaction() as tx:
        inspection = await tx.inspections.start(world.site_a, world.standard, world.inspector)
        other = await tx.inspections.start(world.site_b, world.standard, world.inspector)
        made = [
            await tx.tasks.create(
                world.site_a,
                f"第{no}项",
                created_by=world.inspector,
                due_date=TODAY,
                inspection_id=inspection_id,
                item_no=no,
            )
            for inspection_id, no in ((inspection.id, 5), (inspection.id, 3), (other.id, 3))
        ]
        added = []
        for n, (task, role) in enumerate(
            [
                (made[1], EvidenceRole.FIX),
                (made[0], EvidenceRole.FIX),
                (made[0], EvidenceRole.FINDING),
                (made[2], EvidenceRole.FIX),
                (made[1], EvidenceRole.FIX),
            ]
        ):
            added.append(
                await tx.evidence.add(
                    f"{n}" * 64,
                    n + 1,
                    mime="image/jpeg",
                    kind=EvidenceKind.PHOTO,
                    created_by=world.responsible,
                    task_id=task.id,
                    role=role,
                )
            )
    async with db.read() as tx:
        assert await tx.evidence.fixes_of_inspection(inspection.id) == [
            added[0],
            added[1],
            added[4],
        ]
        assert await tx.evidence.fixes_of_inspection(other.id) == [added[3]]
        assert await tx.evidence.fixes_of_inspection(other.id + 1) == []


async def test_items_most_often_losing_points(db: Database, world: World, clock: FakeClock) -> None:
    plan = {
        world.site_a: {1: 0.0, 2: 0.5, 3: 1.0},
        world.site_b: {1: 0.5, 2: 1.0, 3: 1.0},
    }
    for site, answers in plan.items():
        async with db.transaction() as tx:
            inspection = await tx.inspections.start(site, world.standard, world.inspector)
            for item, score in answers.items():
                await tx.answers.set(
                    inspection.id, item, answered_by=world.inspector, score=score, max_score=1
                )
            await tx.answers.set(
                inspection.id,
                4,
                answered_by=world.inspector,
                score=None,
                max_score=1,
                not_applicable=True,
            )
            await tx.inspections.complete(inspection.id, score=sum(answers.values()), max_score=3)
    async with db.transaction() as tx:
        running = await tx.inspections.start(world.site_a, world.standard, world.inspector)
        await tx.answers.set(running.id, 3, answered_by=world.inspector, score=0, max_score=1)
    since = clock.now - timedelta(days=90)
    async with db.read() as tx:
        losses = await tx.inspections.item_losses(since)
        assert losses == [
            ItemLoss(std_id="culture", item_no=1, times=2, points_lost=1.5),
            ItemLoss(std_id="culture", item_no=2, times=1, points_lost=0.5),
        ]
        only_b = await tx.inspections.item_losses(since, site_ids=[world.site_b])
        assert [(loss.item_no, loss.times) for loss in only_b] == [(1, 1)]
        assert await tx.inspections.item_losses(clock.now + timedelta(seconds=1)) == []


async def test_progress_reads_answers_tasks_photos_and_notes_in_one_statement(
    db: Database, world: World
) -> None:
    """What a tap shows of the items (answers, items with a task, photos and notes per item)
    is one read, equal to the four separate ones: withdrawn tasks, appeal files and
    attachments of no item left out."""
    async with db.transaction() as tx:
        inspection = await tx.inspections.start(world.site_a, world.standard, world.inspector)
        other = await tx.inspections.start(world.site_b, world.standard, world.inspector)
        empty = await tx.inspections.progress(inspection.id)
        await tx.answers.set(inspection.id, 3, answered_by=world.inspector, score=0.5, max_score=1)
        await tx.answers.set(
            inspection.id, 1, answered_by=world.inspector, score=1, max_score=1, level_label="符合"
        )
        await tx.answers.set(
            inspection.id,
            2,
            answered_by=world.inspector,
            score=None,
            max_score=None,
            not_applicable=True,
        )
        await tx.answers.set(other.id, 1, answered_by=world.inspector, score=0, max_score=1)
        for no, on in ((3, inspection.id), (3, inspection.id), (4, inspection.id), (5, other.id)):
            await tx.tasks.create(
                world.site_a,
                f"第{no}项",
                created_by=world.inspector,
                due_date=TODAY,
                inspection_id=on,
                item_no=no,
            )
        withdrawn = await tx.tasks.create(
            world.site_a,
            "撤销",
            created_by=world.inspector,
            due_date=TODAY,
            inspection_id=inspection.id,
            item_no=6,
        )
        await tx.tasks.transition(
            withdrawn.id, 1, TaskStatus.WITHDRAWN, actor_id=world.inspector, reason="改为 1分"
        )
        for n, (item, role) in enumerate(
            ((3, EvidenceRole.FINDING), (3, EvidenceRole.FINDING), (1, EvidenceRole.APPEAL))
        ):
            await tx.evidence.add(
                f"{n:064x}",
                10,
                mime="image/jpeg",
                kind=EvidenceKind.PHOTO,
                created_by=world.inspector,
                role=role,
                inspection_id=inspection.id,
                item_no=item,
            )
        for item in (1, 3, 3):
            await tx.notes.add(
                "备注", created_by=world.inspector, inspection_id=inspection.id, item_no=item
            )
        await tx.notes.add("整改", created_by=world.inspector, task_id=withdrawn.id)
    assert empty == ItemProgress(answers=[], task_items=set(), photo_counts={}, note_counts={})
    async with db.read() as tx:
        progress = await tx.inspections.progress(inspection.id)
        assert progress == ItemProgress(
            answers=[
                AnswerMark(item_no=1, score=1.0, not_applicable=False, level_label="符合"),
                AnswerMark(item_no=2, score=None, not_applicable=True, level_label=None),
                AnswerMark(item_no=3, score=0.5, not_applicable=False, level_label=None),
            ],
            task_items={3, 4},
            photo_counts={3: 2},
            note_counts={1: 1, 3: 2},
        )
        assert progress.answers == await tx.answers.marks(inspection.id)
        assert progress.task_items == await tx.tasks.items_with_tasks(inspection.id)
        assert progress.photo_counts == await tx.evidence.count_by_item(inspection.id)
        assert progress.note_counts == await tx.notes.count_by_item(inspection.id)
        assert type(progress.answers[1].not_applicable) is bool
        assert type(progress.photo_counts[3]) is int


async def test_an_inspection_with_its_site_in_one_read(db: Database, world: World) -> None:
    async with db.transaction() as tx:
        inspection = await tx.inspections.start(
            world.site_a, world.standard, world.inspector, channel=Channel.WEB
        )
    async with db.read() as tx:
        site = await tx.sites.get(world.site_a)
        assert await tx.inspections.with_site(inspection.id) == (inspection, site)
        assert await tx.inspections.with_site(inspection.id + 1) is None
