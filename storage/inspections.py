"""Inspections, their answers (with full revision history), notes and evidence metadata."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage.base import Repo, split_row, to_record, to_records
from storage.errors import NotFound, StateConflict
from storage.records import (
    Answer,
    AnswerMark,
    AnswerRevision,
    Channel,
    Evidence,
    EvidenceKind,
    EvidenceRole,
    Inspection,
    InspectionStatus,
    ItemLoss,
    ItemProgress,
    JsonDict,
    Note,
    Site,
    TaskStatus,
)
from storage.tables import (
    answer_revisions,
    answers,
    evidence,
    inspections,
    notes,
    section_summaries,
    sites,
    standards,
    tasks,
)
from storage.tasks import task_item_numbers

_OPEN = (InspectionStatus.IN_PROGRESS, InspectionStatus.PAUSED)


class InspectionRepo(Repo):
    __slots__ = ()

    async def start(
        self,
        site_id: int,
        standard_id: int,
        inspector_id: int,
        *,
        channel: Channel | None = None,
    ) -> Inspection:
        """Start an inspection pinned to the stored standard row `standard_id`."""
        std_id = await self._conn.scalar(
            sa.select(standards.c.std_id).where(standards.c.id == standard_id)
        )
        if std_id is None:
            raise NotFound(f"standard {standard_id}")
        now = self._now()
        row = await self._insert(
            inspections,
            {
                "site_id": site_id,
                "standard_id": standard_id,
                "std_id": std_id,
                "inspector_id": inspector_id,
                "status": InspectionStatus.IN_PROGRESS,
                "channel": channel,
                "cursor_item_no": None,
                "started_at": now,
                "updated_at": now,
            },
        )
        return to_record(Inspection, row)

    async def get(self, inspection_id: int) -> Inspection | None:
        row = await self._by_id(inspections, inspection_id)
        return to_record(Inspection, row) if row else None

    async def with_site(self, inspection_id: int) -> tuple[Inspection, Site] | None:
        """The inspection and its site, in one query: a tap reads both."""
        result = await self._run(
            "inspections.with_site",
            lambda: (
                sa.select(inspections, sites)
                .join(sites, sites.c.id == inspections.c.site_id)
                .where(inspections.c.id == sa.bindparam("b_id"))
            ),
            {"b_id": inspection_id},
        )
        row = result.one_or_none()
        if row is None:
            return None
        inspection, site = split_row(row, inspections, sites)
        return Inspection(**inspection), Site(**site)

    async def progress(self, inspection_id: int) -> ItemProgress:
        """The current answers, the items with a task and the photos and notes per item, in
        one statement: a tap shows them all (for the N = 50 capacity and PostgreSQL p99
        goals, docs/BENCHMARKS.md)."""
        params = {"b_inspection": inspection_id, "b_withdrawn": TaskStatus.WITHDRAWN}
        result = await self._run("inspections.progress", _progress, params)
        progress = ItemProgress(answers=[], task_items=set(), photo_counts={}, note_counts={})
        for part, item_no, score, not_applicable, level_label, count in result.all():
            if part == _ANSWERS:
                mark = AnswerMark(
                    item_no=item_no,
                    score=score,
                    not_applicable=not_applicable,
                    level_label=level_label,
                )
                progress.answers.append(mark)
            elif part == _TASKS:
                progress.task_items.add(item_no)
            elif part == _PHOTOS:
                progress.photo_counts[item_no] = count
            else:
                progress.note_counts[item_no] = count
        return progress

    async def open_for_inspector(self, inspector_id: int) -> list[Inspection]:
        """In-progress and paused inspections of the inspector, most recently touched first."""
        stmt = (
            sa.select(inspections)
            .where(inspections.c.inspector_id == inspector_id, inspections.c.status.in_(_OPEN))
            .order_by(inspections.c.updated_at.desc(), inspections.c.id.desc())
        )
        return to_records(Inspection, await self._all(stmt))

    async def open_for_site(self, site_id: int) -> list[Inspection]:
        stmt = (
            sa.select(inspections)
            .where(inspections.c.site_id == site_id, inspections.c.status.in_(_OPEN))
            .order_by(inspections.c.id)
        )
        return to_records(Inspection, await self._all(stmt))

    async def move_cursor(
        self, inspection_id: int, item_no: int | None, *, channel: Channel | None = None
    ) -> Inspection:
        """Record where the inspector is (and on which channel) in an open inspection."""
        values: dict[str, Any] = {"cursor_item_no": item_no}
        if channel is not None:
            values["channel"] = channel
        return await self._change(inspection_id, _OPEN, values)

    async def pause(self, inspection_id: int) -> Inspection:
        now = self._now()
        return await self._change(
            inspection_id,
            (InspectionStatus.IN_PROGRESS,),
            {"status": InspectionStatus.PAUSED, "paused_at": now},
        )

    async def resume(self, inspection_id: int, *, channel: Channel | None = None) -> Inspection:
        values: dict[str, Any] = {"status": InspectionStatus.IN_PROGRESS}
        if channel is not None:
            values["channel"] = channel
        return await self._change(inspection_id, (InspectionStatus.PAUSED,), values)

    async def complete(self, inspection_id: int, *, score: float, max_score: float) -> Inspection:
        """Finish with the total over the applicable items (不适用 excluded from max_score)."""
        values = {
            "status": InspectionStatus.COMPLETED,
            "completed_at": self._now(),
            "score": score,
            "max_score": max_score,
        }
        return await self._change(inspection_id, _OPEN, values)

    async def rescore(self, inspection_id: int, *, score: float, max_score: float) -> Inspection:
        """A completed inspection's total after an appeal's decision changed an answer."""
        values = {"score": score, "max_score": max_score}
        return await self._change(inspection_id, (InspectionStatus.COMPLETED,), values)

    async def cancel(self, inspection_id: int) -> Inspection:
        values = {"status": InspectionStatus.CANCELLED, "cancelled_at": self._now()}
        return await self._change(inspection_id, _OPEN, values)

    async def first_section_summary(self, inspection_id: int, section_code: str) -> bool:
        """Note that the section's summary goes out; False if it already went (from any
        chat)."""
        result = await self._run(
            ("inspections.first_section_summary", self._ctx.dialect),
            lambda: self._dialect_insert(section_summaries).on_conflict_do_nothing(
                index_elements=["inspection_id", "section_code"]
            ),
            {"inspection_id": inspection_id, "section_code": section_code, "sent_at": self._now()},
        )
        return result.rowcount == 1

    async def _change(
        self,
        inspection_id: int,
        allowed: Iterable[InspectionStatus],
        values: dict[str, Any],
    ) -> Inspection:
        allowed = tuple(allowed)
        result = await self._run(
            ("inspections.change", allowed),
            lambda: (
                sa.update(inspections)
                .where(
                    inspections.c.id == sa.bindparam("b_id"),
                    sa.or_(*(inspections.c.status == status for status in allowed)),
                )
                .returning(inspections)
            ),
            {**values, "updated_at": self._now(), "b_id": inspection_id},
        )
        row = result.one_or_none()
        if row is not None:
            return to_record(Inspection, row)
        current = await self.get(inspection_id)
        if current is None:
            raise NotFound(f"inspection {inspection_id}")
        raise StateConflict(f"inspection {inspection_id} is {current.status}")

    async def latest_completed(
        self, site_id: int, std_id: str, *, limit: int = 2
    ) -> list[Inspection]:
        """The site's latest completed inspections of a standard, newest first
        (the default two give "this one and the one before" for the change report)."""
        result = await self._run(
            "inspections.latest_completed",
            lambda: (
                sa.select(inspections)
                .where(
                    inspections.c.site_id == sa.bindparam("b_site"),
                    inspections.c.std_id == sa.bindparam("b_std"),
                    inspections.c.status == InspectionStatus.COMPLETED,
                )
                .order_by(inspections.c.completed_at.desc(), inspections.c.id.desc())
                .limit(sa.bindparam("b_limit"))
            ),
            {"b_site": site_id, "b_std": std_id, "b_limit": limit},
        )
        return to_records(Inspection, result.all())

    async def completed_before(
        self, site_id: int, std_id: str, completed_at: datetime, inspection_id: int
    ) -> Inspection | None:
        """The site's inspection of the standard completed just before the one completed at
        `completed_at` with id `inspection_id` (the same moment: the lower id is earlier)."""
        result = await self._run(
            "inspections.completed_before",
            _completed_before,
            {
                "b_site": site_id,
                "b_std": std_id,
                "b_completed": completed_at,
                "b_id": inspection_id,
            },
        )
        row = result.one_or_none()
        return to_record(Inspection, row) if row else None

    async def latest_scores(
        self, site_ids: Iterable[int], *, std_id: str | None = None
    ) -> dict[int, Inspection]:
        """Per site, its latest completed inspection (of `std_id` if given), for /stats."""
        conditions = [
            inspections.c.site_id.in_(list(site_ids)),
            inspections.c.status == InspectionStatus.COMPLETED,
        ]
        if std_id is not None:
            conditions.append(inspections.c.std_id == std_id)
        ranked = (
            sa.select(
                inspections.c.id,
                sa.func.row_number()
                .over(
                    partition_by=inspections.c.site_id,
                    order_by=(inspections.c.completed_at.desc(), inspections.c.id.desc()),
                )
                .label("rank"),
            )
            .where(*conditions)
            .subquery()
        )
        stmt = (
            sa.select(inspections)
            .join(ranked, ranked.c.id == inspections.c.id)
            .where(ranked.c.rank == 1)
        )
        return {row.site_id: to_record(Inspection, row) for row in await self._all(stmt)}

    async def completed_between(
        self, since: datetime, until: datetime, *, site_ids: Iterable[int] | None = None
    ) -> list[Inspection]:
        """Inspections completed in [since, until), oldest first (monthly 通报, digests)."""
        stmt = (
            sa.select(inspections)
            .where(
                inspections.c.status == InspectionStatus.COMPLETED,
                inspections.c.completed_at >= since,
                inspections.c.completed_at < until,
            )
            .order_by(inspections.c.completed_at, inspections.c.id)
        )
        if site_ids is not None:
            stmt = stmt.where(inspections.c.site_id.in_(list(site_ids)))
        return to_records(Inspection, await self._all(stmt))

    async def item_losses(
        self,
        since: datetime,
        *,
        until: datetime | None = None,
        site_ids: Iterable[int] | None = None,
        limit: int = 20,
    ) -> list[ItemLoss]:
        """Items most often losing points in inspections completed since `since` (and before
        `until`, if given)."""
        times = sa.func.count().label("times")
        stmt = (
            sa.select(
                inspections.c.std_id,
                answers.c.item_no,
                times,
                sa.func.sum(answers.c.max_score - answers.c.score).label("points_lost"),
            )
            .select_from(inspections)
            .join(answers, answers.c.inspection_id == inspections.c.id)
            .where(
                inspections.c.status == InspectionStatus.COMPLETED,
                inspections.c.completed_at >= since,
                answers.c.not_applicable.is_(False),
                answers.c.score < answers.c.max_score,
            )
            .group_by(inspections.c.std_id, answers.c.item_no)
            .order_by(times.desc(), inspections.c.std_id, answers.c.item_no)
            .limit(limit)
        )
        if until is not None:
            stmt = stmt.where(inspections.c.completed_at < until)
        if site_ids is not None:
            stmt = stmt.where(inspections.c.site_id.in_(list(site_ids)))
        return [
            ItemLoss(
                std_id=row.std_id,
                item_no=row.item_no,
                times=row.times,
                points_lost=float(row.points_lost),
            )
            for row in await self._all(stmt)
        ]


class AnswerRepo(Repo):
    __slots__ = ()

    async def losing(self, inspection_ids: Iterable[int]) -> list[tuple[int, int, float]]:
        """(inspection, item, points lost) of every current answer below its maximum (不适用
        excluded) in the inspections: the findings the KPIs count per inspector and item."""
        ids = sorted(set(inspection_ids))
        found: list[tuple[int, int, float]] = []
        for start in range(0, len(ids), 900):
            stmt = (
                sa.select(
                    answers.c.inspection_id,
                    answers.c.item_no,
                    answers.c.max_score - answers.c.score,
                )
                .where(
                    answers.c.inspection_id.in_(ids[start : start + 900]),
                    answers.c.not_applicable.is_(False),
                    answers.c.score < answers.c.max_score,
                )
                .order_by(answers.c.inspection_id, answers.c.item_no)
            )
            found += [(row[0], row[1], float(row[2])) for row in await self._all(stmt)]
        return found

    async def set(
        self,
        inspection_id: int,
        item_no: int,
        *,
        answered_by: int,
        score: float | None,
        max_score: float | None,
        not_applicable: bool = False,
        level_label: str | None = None,
        details: JsonDict | None = None,
    ) -> Answer:
        """Set or change the current answer; every call also appends a revision, so an
        edit never destroys the earlier answer."""
        values = {
            "score": score,
            "max_score": max_score,
            "not_applicable": not_applicable,
            "level_label": level_label,
            "details": details or {},
            "answered_by": answered_by,
            "answered_at": self._now(),
        }
        dialect = self._ctx.dialect
        params = {"inspection_id": inspection_id, "item_no": item_no, "revision": 1, **values}
        upserted = await self._run(
            ("answers.upsert", dialect), lambda: self._answer_upsert(list(values)), params
        )
        row = upserted.one()
        revision = {**params, "revision": row.revision}
        await self._run("answers.revision", lambda: sa.insert(answer_revisions), revision)
        return to_record(Answer, row)

    def _answer_upsert(self, columns: list[str]) -> Any:
        """INSERT … ON CONFLICT (inspection, item) DO UPDATE SET the answer's columns and
        revision + 1, with every value a bound parameter."""
        insert = self._dialect_insert(answers)
        updates: dict[str, Any] = {name: insert.excluded[name] for name in columns}
        return insert.on_conflict_do_update(
            index_elements=["inspection_id", "item_no"],
            set_={**updates, "revision": answers.c.revision + 1},
        ).returning(answers)

    async def get(self, inspection_id: int, item_no: int) -> Answer | None:
        stmt = sa.select(answers).where(
            answers.c.inspection_id == inspection_id, answers.c.item_no == item_no
        )
        row = await self._one(stmt)
        return to_record(Answer, row) if row else None

    async def for_inspection(self, inspection_id: int) -> list[Answer]:
        """Current answers by item number."""
        rows = await self._rows_by(answers, "inspection_id", inspection_id, ("item_no",))
        return to_records(Answer, rows)

    async def marks(self, inspection_id: int) -> list[AnswerMark]:
        """Current answers by item number, only what the conversation shows: read on every
        tap, so without the details, times and revisions of :meth:`for_inspection`."""
        result = await self._run("answers.marks", _answer_marks, {"b_inspection": inspection_id})
        return [
            AnswerMark(item_no=no, score=score, not_applicable=na, level_label=label)
            for no, score, na, label in result.all()
        ]

    async def history(self, inspection_id: int, item_no: int) -> list[AnswerRevision]:
        """Every answer ever given to the item, oldest first."""
        stmt = (
            sa.select(answer_revisions)
            .where(
                answer_revisions.c.inspection_id == inspection_id,
                answer_revisions.c.item_no == item_no,
            )
            .order_by(answer_revisions.c.revision)
        )
        return to_records(AnswerRevision, await self._all(stmt))


def _target(inspection_id: int | None, item_no: int | None, task_id: int | None) -> None:
    if inspection_id is None and task_id is None:
        raise ValueError("attach to an inspection item or to a task")
    if (inspection_id is None) != (item_no is None):
        raise ValueError("an inspection attachment names both inspection_id and item_no")


class NoteRepo(Repo):
    __slots__ = ()

    async def add(
        self,
        text: str,
        *,
        created_by: int,
        inspection_id: int | None = None,
        item_no: int | None = None,
        task_id: int | None = None,
    ) -> Note:
        """A note on an inspection item, on a task, or on both."""
        _target(inspection_id, item_no, task_id)
        row = await self._insert(
            notes,
            {
                "inspection_id": inspection_id,
                "item_no": item_no,
                "task_id": task_id,
                "text": text,
                "created_by": created_by,
                "created_at": self._now(),
            },
        )
        return to_record(Note, row)

    async def for_item(self, inspection_id: int, item_no: int) -> list[Note]:
        return to_records(Note, await self._item_rows(notes, inspection_id, item_no))

    async def count_by_item(self, inspection_id: int) -> dict[int, int]:
        """Number of notes per item of an inspection."""
        result = await self._run(
            "notes.count_by_item", lambda: _counted(notes), {"b_inspection": inspection_id}
        )
        return {row[0]: row[1] for row in result.all()}

    async def for_inspection(self, inspection_id: int) -> list[Note]:
        rows = await self._rows_by(notes, "inspection_id", inspection_id, ("item_no", "id"))
        return to_records(Note, rows)

    async def for_task(self, task_id: int) -> list[Note]:
        stmt = sa.select(notes).where(notes.c.task_id == task_id).order_by(notes.c.id)
        return to_records(Note, await self._all(stmt))


class EvidenceRepo(Repo):
    """Evidence metadata; put the bytes into Database.files first and pass the hash here."""

    __slots__ = ()

    async def add(
        self,
        sha256: str,
        size: int,
        *,
        mime: str,
        kind: EvidenceKind,
        created_by: int,
        role: EvidenceRole = EvidenceRole.FINDING,
        channel: Channel | None = None,
        channel_file_ref: str | None = None,
        caption: str | None = None,
        inspection_id: int | None = None,
        item_no: int | None = None,
        task_id: int | None = None,
        taken_at: datetime | None = None,
        phash: str | None = None,
        position: tuple[float, float] | None = None,
    ) -> Evidence:
        _target(inspection_id, item_no, task_id)
        row = await self._insert(
            evidence,
            {
                "sha256": sha256,
                "size": size,
                "mime": mime,
                "kind": kind,
                "role": role,
                "channel": channel,
                "channel_file_ref": channel_file_ref,
                "caption": caption,
                "inspection_id": inspection_id,
                "item_no": item_no,
                "task_id": task_id,
                "created_by": created_by,
                "created_at": self._now(),
                "taken_at": taken_at,
                "phash": phash,
                "latitude": position[0] if position else None,
                "longitude": position[1] if position else None,
            },
        )
        return to_record(Evidence, row)

    async def get(self, evidence_id: int) -> Evidence | None:
        row = await self._by_id(evidence, evidence_id)
        return to_record(Evidence, row) if row else None

    async def for_item(self, inspection_id: int, item_no: int) -> list[Evidence]:
        """The item's finding photos and files (not those sent with an appeal)."""
        rows = to_records(Evidence, await self._item_rows(evidence, inspection_id, item_no))
        return [e for e in rows if e.role is not EvidenceRole.APPEAL]

    async def for_appeal(self, inspection_id: int, item_no: int) -> list[Evidence]:
        """The files sent with the appeal against the item's finding."""
        rows = to_records(Evidence, await self._item_rows(evidence, inspection_id, item_no))
        return [e for e in rows if e.role is EvidenceRole.APPEAL]

    async def for_inspection(self, inspection_id: int) -> list[Evidence]:
        rows = await self._rows_by(evidence, "inspection_id", inspection_id, ("item_no", "id"))
        return to_records(Evidence, rows)

    async def for_task(self, task_id: int, *, role: EvidenceRole | None = None) -> list[Evidence]:
        def build() -> sa.Select[Any]:
            stmt = sa.select(evidence).where(evidence.c.task_id == sa.bindparam("b_task"))
            if role is not None:
                stmt = stmt.where(evidence.c.role == sa.bindparam("b_role"))
            return stmt.order_by(evidence.c.id)

        params: dict[str, object] = {"b_task": task_id}
        if role is not None:
            params["b_role"] = role
        result = await self._run(("evidence.for_task", role is not None), build, params)
        return to_records(Evidence, result.all())

    async def fixes_of_inspection(self, inspection_id: int) -> list[Evidence]:
        """The fix evidence (整改后) of every task of the inspection, oldest first: a report
        shows each fixed task's photos, in one statement instead of one per task."""
        result = await self._run(
            "evidence.fixes_of_inspection",
            lambda: (
                sa.select(evidence)
                .where(
                    evidence.c.role == sa.bindparam("b_role"),
                    evidence.c.task_id.in_(
                        sa.select(tasks.c.id).where(
                            tasks.c.inspection_id == sa.bindparam("b_inspection")
                        )
                    ),
                )
                .order_by(evidence.c.id)
            ),
            {"b_role": EvidenceRole.FIX, "b_inspection": inspection_id},
        )
        return to_records(Evidence, result.all())

    async def hashed_at_site(self, site_id: int, since: datetime) -> list[Evidence]:
        """The photos with a perceptual hash received at a site (its inspections' and tasks')
        since a moment, oldest first: what a new fix photo is compared with for reuse."""
        result = await self._run(
            "evidence.hashed_at_site", _hashed_at_site, {"b_site": site_id, "b_since": since}
        )
        return to_records(Evidence, result.all())

    async def fixes_between(self, start: datetime, end: datetime) -> list[Evidence]:
        """The fix photos received in [start, end), oldest first."""
        stmt = (
            sa.select(evidence)
            .where(
                evidence.c.role == EvidenceRole.FIX,
                evidence.c.task_id.is_not(None),
                evidence.c.created_at >= start,
                evidence.c.created_at < end,
            )
            .order_by(evidence.c.id)
        )
        return to_records(Evidence, await self._all(stmt))

    async def count_by_item(self, inspection_id: int) -> dict[int, int]:
        """Number of files per item of an inspection (the "· 2📷" on answered items)."""
        result = await self._run(
            "evidence.count_by_item", _photos_counted, {"b_inspection": inspection_id}
        )
        rows = result.all()
        return {row[0]: row[1] for row in rows}


def _counted(table: sa.Table) -> sa.Select[int, int]:
    """Rows per item of an inspection."""
    return (
        sa.select(table.c.item_no, sa.func.count())
        .where(table.c.inspection_id == sa.bindparam("b_inspection"), table.c.item_no.is_not(None))
        .group_by(table.c.item_no)
    )


def _photos_counted() -> sa.Select[int, int]:
    """Files per item of an inspection, but for those sent with an appeal."""
    return _counted(evidence).where(evidence.c.role != EvidenceRole.APPEAL)


def _hashed_at_site() -> sa.Select[Any]:
    site_id = sa.bindparam("b_site", type_=sa.Integer)
    at_site = sa.or_(
        evidence.c.inspection_id.in_(
            sa.select(inspections.c.id).where(inspections.c.site_id == site_id)
        ),
        evidence.c.task_id.in_(sa.select(tasks.c.id).where(tasks.c.site_id == site_id)),
    )
    return (
        sa.select(evidence)
        .where(
            evidence.c.phash.is_not(None),
            evidence.c.created_at >= sa.bindparam("b_since"),
            at_site,
        )
        .order_by(evidence.c.id)
    )


def _completed_before() -> sa.Select[Any]:
    completed_at = sa.bindparam("b_completed", type_=inspections.c.completed_at.type)
    return (
        sa.select(inspections)
        .where(
            inspections.c.site_id == sa.bindparam("b_site"),
            inspections.c.std_id == sa.bindparam("b_std"),
            inspections.c.status == InspectionStatus.COMPLETED,
            sa.or_(
                inspections.c.completed_at < completed_at,
                sa.and_(
                    inspections.c.completed_at == completed_at,
                    inspections.c.id < sa.bindparam("b_id"),
                ),
            ),
        )
        .order_by(inspections.c.completed_at.desc(), inspections.c.id.desc())
        .limit(1)
    )


def _answer_marks() -> sa.Select[int, float | None, bool, str | None]:
    return (
        sa.select(
            answers.c.item_no, answers.c.score, answers.c.not_applicable, answers.c.level_label
        )
        .where(answers.c.inspection_id == sa.bindparam("b_inspection"))
        .order_by(answers.c.item_no)
    )


_ANSWERS, _TASKS, _PHOTOS, _NOTES = range(4)
"""The parts of :func:`_progress`, by its first column."""


def _progress() -> sa.CompoundSelect[int, int, float | None, bool | None, str | None, int]:
    """(part, item_no, score, not_applicable, level_label, count) rows of an inspection's
    answers, task items, photo counts and note counts (the statements of `AnswerRepo.marks`,
    `TaskRepo.items_with_tasks` and the `count_by_item` methods), answers first by item number.
    The NULLs are typed: PostgreSQL types a UNION's columns from its first rows."""
    score = sa.cast(sa.null(), sa.Float)
    not_applicable = sa.cast(sa.null(), sa.Boolean)
    level_label = sa.cast(sa.null(), sa.String)
    count = sa.cast(sa.null(), sa.Integer)

    def part(value: int) -> sa.ColumnElement[int]:
        return sa.literal_column(str(value), sa.Integer)

    marks = (
        _answer_marks()
        .order_by(None)
        .with_only_columns(
            part(_ANSWERS).label("part"),
            answers.c.item_no,
            answers.c.score,
            answers.c.not_applicable,
            answers.c.level_label,
            count.label("count"),
        )
    )
    task_items = task_item_numbers().with_only_columns(
        part(_TASKS), tasks.c.item_no, score, not_applicable, level_label, count
    )
    photos = _photos_counted().with_only_columns(
        part(_PHOTOS), evidence.c.item_no, score, not_applicable, level_label, sa.func.count()
    )
    note_counts = _counted(notes).with_only_columns(
        part(_NOTES), notes.c.item_no, score, not_applicable, level_label, sa.func.count()
    )
    union = sa.union_all(marks, task_items, photos, note_counts)
    return union.order_by(union.selected_columns.part, union.selected_columns.item_no)
