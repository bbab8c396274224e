"""Rectification tasks (整改), their event history and extension requests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from storage.base import Repo, to_record, to_records
from storage.errors import ConcurrentUpdate, NotFound, StateConflict
from storage.records import (
    OPEN_TASK_STATUSES,
    ExtensionRequest,
    ExtensionStatus,
    JsonDict,
    Severity,
    Task,
    TaskCounts,
    TaskEvent,
    TaskEventKind,
    TaskStatus,
)
from storage.tables import extension_requests, reminders, task_events, tasks


class TaskRepo(Repo):
    """Every change bumps the task's version and appends a TaskEvent (who, when, what).

    Changes take the version the caller read and raise ConcurrentUpdate if it moved.
    """

    __slots__ = ()

    async def create(
        self,
        site_id: int,
        finding: str,
        *,
        created_by: int | None,
        due_date: date | None,
        responsible_person_id: int | None = None,
        inspection_id: int | None = None,
        item_no: int | None = None,
        score: float | None = None,
        severity: Severity = Severity.GENERAL,
        remark: str | None = None,
    ) -> Task:
        now = self._now()
        row = await self._insert(
            tasks,
            {
                "site_id": site_id,
                "inspection_id": inspection_id,
                "item_no": item_no,
                "finding": finding,
                "score": score,
                "severity": severity,
                "responsible_person_id": responsible_person_id,
                "status": TaskStatus.OPEN,
                "due_date": due_date,
                "remark": remark,
                "created_by": created_by,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            },
        )
        task = to_record(Task, row)
        await self.record_event(
            task.id, TaskEventKind.CREATED, actor_id=created_by, to_status=TaskStatus.OPEN
        )
        return task

    async def get(self, task_id: int) -> Task | None:
        row = await self._by_id(tasks, task_id)
        return to_record(Task, row) if row else None

    async def get_many(self, task_ids: Iterable[int]) -> dict[int, Task]:
        ids = sorted(set(task_ids))
        found: dict[int, Task] = {}
        for start in range(0, len(ids), 900):
            stmt = sa.select(tasks).where(tasks.c.id.in_(ids[start : start + 900]))
            found.update((t.id, t) for t in to_records(Task, await self._all(stmt)))
        return found

    async def transition(
        self,
        task_id: int,
        expected_version: int,
        new_status: TaskStatus,
        *,
        actor_id: int | None,
        reason: str | None = None,
    ) -> Task:
        """Change the status (待整改 → 待复查 → 已完成, 退回 back to 待整改, 已撤销). Which
        moves are allowed is the domain's call; here a move to the same status is refused.
        A move out of the open states (已完成, 已撤销) sets `closed_at`."""
        current = await self._expect(task_id, expected_version)
        if current.status is new_status:
            raise StateConflict(f"task {task_id} is already {new_status}")
        closed_at = None if new_status in OPEN_TASK_STATUSES else self._now()
        task = await self._bump(current, {"status": new_status, "closed_at": closed_at})
        await self.record_event(
            task_id,
            TaskEventKind.STATUS,
            actor_id=actor_id,
            from_status=current.status,
            to_status=new_status,
            reason=reason,
        )
        return task

    async def change_due_date(
        self,
        task_id: int,
        expected_version: int,
        due_date: date,
        *,
        actor_id: int | None,
        reason: str | None = None,
    ) -> Task:
        current = await self._expect(task_id, expected_version)
        task = await self._bump(current, {"due_date": due_date})
        await self.record_event(
            task_id,
            TaskEventKind.DUE_CHANGED,
            actor_id=actor_id,
            reason=reason,
            data={"from": _iso(current.due_date), "to": due_date.isoformat()},
        )
        return task

    async def reassign(
        self,
        task_id: int,
        expected_version: int,
        person_id: int,
        *,
        actor_id: int | None,
        reason: str | None = None,
    ) -> Task:
        current = await self._expect(task_id, expected_version)
        task = await self._bump(current, {"responsible_person_id": person_id})
        await self.record_event(
            task_id,
            TaskEventKind.REASSIGNED,
            actor_id=actor_id,
            reason=reason,
            data={"from": current.responsible_person_id, "to": person_id},
        )
        return task

    async def rescore(
        self,
        task_id: int,
        expected_version: int,
        score: float,
        finding: str,
        *,
        actor_id: int | None,
        reason: str | None = None,
    ) -> Task:
        """The item's answer changed to another losing level: the task's score and 问题
        follow; the earlier ones stay in the event history."""
        current = await self._expect(task_id, expected_version)
        task = await self._bump(current, {"score": score, "finding": finding})
        await self.record_event(
            task_id,
            TaskEventKind.RESCORED,
            actor_id=actor_id,
            reason=reason,
            data={
                "from": current.score,
                "to": score,
                "finding_from": current.finding,
                "finding_to": finding,
            },
        )
        return task

    async def record_event(
        self,
        task_id: int,
        kind: TaskEventKind,
        *,
        actor_id: int | None = None,
        from_status: TaskStatus | None = None,
        to_status: TaskStatus | None = None,
        reason: str | None = None,
        data: JsonDict | None = None,
    ) -> TaskEvent:
        """Append to the task's history; used directly for reminders and escalations."""
        row = await self._insert(
            task_events,
            {
                "task_id": task_id,
                "at": self._now(),
                "actor_id": actor_id,
                "kind": kind,
                "from_status": from_status,
                "to_status": to_status,
                "reason": reason,
                "data": data or {},
            },
        )
        return to_record(TaskEvent, row)

    async def record_system_events(
        self, events: Iterable[tuple[int, TaskEventKind, JsonDict]]
    ) -> int:
        """Append many actor-less events (reminders, escalations) in one statement."""
        now = self._now()
        rows = [
            {
                "task_id": task_id,
                "at": now,
                "actor_id": None,
                "kind": kind,
                "from_status": None,
                "to_status": None,
                "reason": None,
                "data": data,
            }
            for task_id, kind, data in events
        ]
        if rows:
            await self._conn.execute(sa.insert(task_events), rows)
        return len(rows)

    async def events(self, task_id: int) -> list[TaskEvent]:
        return to_records(TaskEvent, await self._rows_by(task_events, "task_id", task_id, ("id",)))

    async def for_inspection(self, inspection_id: int) -> list[Task]:
        rows = await self._rows_by(tasks, "inspection_id", inspection_id, ("item_no", "id"))
        return to_records(Task, rows)

    async def items_with_tasks(self, inspection_id: int) -> set[int]:
        """The numbers of the inspection's items that have a rectification task (one that was
        withdrawn does not count): all a tap needs to know of them (reading the tasks
        themselves on every tap cost more)."""
        params = {"b_inspection": inspection_id, "b_withdrawn": TaskStatus.WITHDRAWN}
        return {no for (no,) in (await self._run("tasks.items", task_item_numbers, params)).all()}

    async def open_for_person(self, person_id: int) -> list[Task]:
        """Not-done tasks of a 责任人 by target date: the overdue ones come first."""
        stmt = (
            sa.select(tasks)
            .where(
                tasks.c.responsible_person_id == person_id,
                tasks.c.status.in_(OPEN_TASK_STATUSES),
            )
            .order_by(tasks.c.due_date.asc().nulls_last(), tasks.c.id)
        )
        return to_records(Task, await self._all(stmt))

    async def open_created_by(self, person_id: int) -> list[Task]:
        """Not-done tasks an inspector created (from their inspections), by target date."""
        stmt = (
            sa.select(tasks)
            .where(tasks.c.created_by == person_id, tasks.c.status.in_(OPEN_TASK_STATUSES))
            .order_by(tasks.c.due_date.asc().nulls_last(), tasks.c.id)
        )
        return to_records(Task, await self._all(stmt))

    async def open_for_site(self, site_id: int) -> list[Task]:
        stmt = (
            sa.select(tasks)
            .where(tasks.c.site_id == site_id, tasks.c.status.in_(OPEN_TASK_STATUSES))
            .order_by(tasks.c.due_date.asc().nulls_last(), tasks.c.id)
        )
        return to_records(Task, await self._all(stmt))

    async def open_without_pending_reminders(self, *, limit: int) -> list[Task]:
        """待整改 tasks with a target date but no reminder planned: the daily safety net
        re-plans them (e.g. after a restore, or tasks created before planning existed)."""
        pending = (
            sa.select(reminders.c.id)
            .where(
                reminders.c.task_id == tasks.c.id,
                reminders.c.sent_at.is_(None),
                reminders.c.cancelled_at.is_(None),
            )
            .exists()
        )
        stmt = (
            sa.select(tasks)
            .where(tasks.c.status == TaskStatus.OPEN, tasks.c.due_date.is_not(None), ~pending)
            .order_by(tasks.c.id)
            .limit(limit)
        )
        return to_records(Task, await self._all(stmt))

    async def overdue(
        self, site_ids: Iterable[int], today: date, *, limit: int | None = None
    ) -> list[Task]:
        """Not-done tasks of the sites whose target date is before `today`, oldest first."""
        stmt = (
            sa.select(tasks)
            .where(
                tasks.c.site_id.in_(list(site_ids)),
                tasks.c.status.in_(OPEN_TASK_STATUSES),
                tasks.c.due_date < today,
            )
            .order_by(tasks.c.due_date, tasks.c.id)
            .limit(limit)
        )
        return to_records(Task, await self._all(stmt))

    async def due_between(
        self, first: date, last: date, *, site_ids: Iterable[int] | None = None
    ) -> list[Task]:
        """Tasks whose current target date is in [first, last), 已撤销 excluded: the tasks a
        KPI period counts (docs/KPI.md)."""
        stmt = (
            sa.select(tasks)
            .where(
                tasks.c.due_date >= first,
                tasks.c.due_date < last,
                tasks.c.status != TaskStatus.WITHDRAWN,
            )
            .order_by(tasks.c.due_date, tasks.c.id)
        )
        if site_ids is not None:
            stmt = stmt.where(tasks.c.site_id.in_(list(site_ids)))
        return to_records(Task, await self._all(stmt))

    async def open_due_before(
        self, last: date, *, site_ids: Iterable[int] | None = None
    ) -> list[Task]:
        """Not-done tasks whose target date is before `last`, oldest first (逾期未整改 of a
        KPI period, whatever period they were due in)."""
        stmt = (
            sa.select(tasks)
            .where(tasks.c.due_date < last, tasks.c.status.in_(OPEN_TASK_STATUSES))
            .order_by(tasks.c.due_date, tasks.c.id)
        )
        if site_ids is not None:
            stmt = stmt.where(tasks.c.site_id.in_(list(site_ids)))
        return to_records(Task, await self._all(stmt))

    async def for_inspections(self, inspection_ids: Iterable[int]) -> list[Task]:
        """The tasks of the inspections, 已撤销 excluded, by inspection and item (the
        不合格项 of a 通报)."""
        ids = sorted(set(inspection_ids))
        found: list[Task] = []
        for start in range(0, len(ids), 900):
            stmt = (
                sa.select(tasks)
                .where(
                    tasks.c.inspection_id.in_(ids[start : start + 900]),
                    tasks.c.status != TaskStatus.WITHDRAWN,
                )
                .order_by(tasks.c.inspection_id, tasks.c.item_no, tasks.c.id)
            )
            found += to_records(Task, await self._all(stmt))
        return found

    async def done_between(self, site_id: int, after: datetime, until: datetime) -> list[Task]:
        """The site's tasks that became 已完成 in (after, until], in that order."""
        stmt = (
            sa.select(tasks)
            .where(
                tasks.c.site_id == site_id,
                tasks.c.status == TaskStatus.DONE,
                tasks.c.closed_at > after,
                tasks.c.closed_at <= until,
            )
            .order_by(tasks.c.closed_at, tasks.c.id)
        )
        return to_records(Task, await self._all(stmt))

    async def counts(self, site_ids: Iterable[int], today: date) -> dict[int, TaskCounts]:
        """Per site: tasks per status and how many are overdue (for /stats and KPIs)."""

        def count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
            return sa.func.sum(sa.case((condition, 1), else_=0))

        stmt = (
            sa.select(
                tasks.c.site_id,
                count_if(tasks.c.status == TaskStatus.OPEN),
                count_if(tasks.c.status == TaskStatus.REVIEW),
                count_if(tasks.c.status == TaskStatus.DONE),
                count_if(tasks.c.status.in_(OPEN_TASK_STATUSES) & (tasks.c.due_date < today)),
            )
            .where(tasks.c.site_id.in_(list(site_ids)))
            .group_by(tasks.c.site_id)
        )
        return {
            row[0]: TaskCounts(
                site_id=row[0],
                open=int(row[1]),
                review=int(row[2]),
                done=int(row[3]),
                overdue=int(row[4]),
            )
            for row in await self._all(stmt)
        }

    async def request_extension(
        self, task_id: int, requested_by: int, requested_due_date: date, *, reason: str | None
    ) -> ExtensionRequest:
        """申请延期; only one request per task may be pending."""
        pending = await self._one(
            sa.select(extension_requests.c.id).where(
                extension_requests.c.task_id == task_id,
                extension_requests.c.status == ExtensionStatus.PENDING,
            )
        )
        if pending is not None:
            raise StateConflict(f"task {task_id} already has a pending extension request")
        row = await self._insert(
            extension_requests,
            {
                "task_id": task_id,
                "requested_by": requested_by,
                "requested_due_date": requested_due_date,
                "reason": reason,
                "status": ExtensionStatus.PENDING,
                "created_at": self._now(),
            },
        )
        request = to_record(ExtensionRequest, row)
        await self.record_event(
            task_id,
            TaskEventKind.EXTENSION_REQUESTED,
            actor_id=requested_by,
            reason=reason,
            data={"request_id": request.id, "to": requested_due_date.isoformat()},
        )
        return request

    async def decide_extension(
        self, request_id: int, *, approve: bool, decided_by: int, reason: str | None = None
    ) -> tuple[ExtensionRequest, Task]:
        """Approve (the task's target date moves) or reject a pending request."""
        status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REJECTED
        row = await self._update(
            extension_requests,
            (extension_requests.c.id == request_id)
            & (extension_requests.c.status == ExtensionStatus.PENDING),
            {"status": status, "decided_by": decided_by, "decided_at": self._now()},
        )
        if row is None:
            if await self.get_extension(request_id) is None:
                raise NotFound(f"extension request {request_id}")
            raise StateConflict(f"extension request {request_id} was already decided")
        request = to_record(ExtensionRequest, row)
        task = await self._require(request.task_id)
        data = {"request_id": request.id, "from": _iso(task.due_date)}
        if approve:
            data["to"] = request.requested_due_date.isoformat()
            task = await self._bump(task, {"due_date": request.requested_due_date})
        kind = TaskEventKind.EXTENSION_APPROVED if approve else TaskEventKind.EXTENSION_REJECTED
        await self.record_event(task.id, kind, actor_id=decided_by, reason=reason, data=data)
        return request, task

    async def get_extension(self, request_id: int) -> ExtensionRequest | None:
        stmt = sa.select(extension_requests).where(extension_requests.c.id == request_id)
        row = await self._one(stmt)
        return to_record(ExtensionRequest, row) if row else None

    async def extensions(self, task_id: int) -> list[ExtensionRequest]:
        stmt = (
            sa.select(extension_requests)
            .where(extension_requests.c.task_id == task_id)
            .order_by(extension_requests.c.id)
        )
        return to_records(ExtensionRequest, await self._all(stmt))

    async def pending_extensions(self, site_ids: Iterable[int]) -> list[ExtensionRequest]:
        """Undecided requests for tasks of the sites, oldest first (for managers)."""
        stmt = (
            sa.select(extension_requests)
            .join(tasks, tasks.c.id == extension_requests.c.task_id)
            .where(
                extension_requests.c.status == ExtensionStatus.PENDING,
                tasks.c.site_id.in_(list(site_ids)),
            )
            .order_by(extension_requests.c.id)
        )
        return to_records(ExtensionRequest, await self._all(stmt))

    async def _require(self, task_id: int) -> Task:
        task = await self.get(task_id)
        if task is None:
            raise NotFound(f"task {task_id}")
        return task

    async def _expect(self, task_id: int, expected_version: int) -> Task:
        task = await self._require(task_id)
        if task.version != expected_version:
            raise ConcurrentUpdate(
                f"task {task_id} is at version {task.version}, not {expected_version}"
            )
        return task

    async def _bump(self, current: Task, values: dict[str, Any]) -> Task:
        result = await self._run(
            "tasks.bump",
            lambda: (
                sa.update(tasks)
                .where(
                    tasks.c.id == sa.bindparam("b_id"),
                    tasks.c.version == sa.bindparam("b_version"),
                )
                .returning(tasks)
            ),
            {
                **values,
                "version": current.version + 1,
                "updated_at": self._now(),
                "b_id": current.id,
                "b_version": current.version,
            },
        )
        row = result.one_or_none()
        if row is None:
            raise ConcurrentUpdate(f"task {current.id} changed concurrently")
        return to_record(Task, row)


def task_item_numbers() -> sa.Select[int | None]:
    """The item numbers of the inspection `b_inspection`'s tasks, but for those in the status
    `b_withdrawn` (已撤销)."""
    return sa.select(tasks.c.item_no).where(
        tasks.c.inspection_id == sa.bindparam("b_inspection"),
        tasks.c.item_no.is_not(None),
        tasks.c.status != sa.bindparam("b_withdrawn", type_=tasks.c.status.type),
    )


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None
