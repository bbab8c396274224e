"""Database invariants that must hold whatever events arrived, and table snapshots.

`violations(db)` reads the whole database and returns one line per broken rule (empty when all
hold). It is used after fuzz runs, after the crash-and-restart run and after access checks.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from bot.core import payload as payloads
from bot.core.conversation import ConversationState
from bot.core.task_rules import ALLOWED
from bot.core.texts import render
from standards.schema import Standard
from storage.db import Database
from storage.records import (
    OPEN_TASK_STATUSES,
    EvidenceRole,
    ExtensionStatus,
    InspectionStatus,
    TaskEventKind,
    TaskStatus,
)
from storage.tables import (
    TABLES_IN_ORDER,
    answer_revisions,
    answers,
    conversations,
    evidence,
    extension_requests,
    identities,
    inspections,
    notes,
    outbox,
    processed_events,
    reminders,
    roles,
    standards,
    task_events,
    tasks,
)

ERROR_TEXT = render("error")
"""The generic reply after an unexpected exception; it must never appear."""

# (child table, column, parent table): every non-null value must name an existing row.
REFERENCES = (
    (answers, "inspection_id", inspections),
    (answer_revisions, "inspection_id", inspections),
    (evidence, "inspection_id", inspections),
    (evidence, "task_id", tasks),
    (notes, "inspection_id", inspections),
    (notes, "task_id", tasks),
    (tasks, "inspection_id", inspections),
    (task_events, "task_id", tasks),
    (extension_requests, "task_id", tasks),
    (reminders, "task_id", tasks),
    (inspections, "standard_id", standards),
)
Rows = list[dict[str, Any]]


async def _rows(conn: Any, table: sa.Table) -> Rows:
    result = await conn.execute(sa.select(table).order_by(*table.primary_key.columns))
    return [dict(row._mapping) for row in result]


async def violations(db: Database) -> list[str]:
    """Every broken invariant, as readable lines."""
    async with db.read() as tx:
        conn = tx.connection
        data = {table.name: await _rows(conn, table) for table in TABLES_IN_ORDER}
    problems = _orphans(data)
    snapshots = {row["id"]: Standard.model_validate(row["snapshot"]) for row in data["standards"]}
    by_id = {row["id"]: row for row in data["inspections"]}
    problems += _answers(data, by_id, snapshots)
    problems += _inspections(data, snapshots)
    problems += _tasks(data)
    problems += _task_results(data, by_id, snapshots)
    problems += _reminders(data)
    problems += _evidence(data)
    problems += _fixes(data)
    problems += _conversations(data)
    problems += _outbox(data)
    for row in data["evidence"]:
        if not await db.files.exists(row["sha256"]):
            problems.append(f"evidence {row['id']}: file {row['sha256'][:12]} missing")
    return problems


def _orphans(data: dict[str, Rows]) -> list[str]:
    problems = []
    for child, column, parent in REFERENCES:
        known = {row["id"] for row in data[parent.name]}
        for row in data[child.name]:
            value = row[column]
            if value is not None and value not in known:
                problems.append(f"{child.name} {row['id']}: {column}={value} does not exist")
    people = {row["id"] for row in data["people"]}
    for table in (roles, identities, conversations):
        for row in data[table.name]:
            if row["person_id"] not in people:
                problems.append(f"{table.name} {row['id']}: person {row['person_id']} missing")
    return problems


def _answers(
    data: dict[str, Rows], by_id: dict[int, dict[str, Any]], snapshots: dict[int, Standard]
) -> list[str]:
    problems: list[str] = []
    seen: set[tuple[int, int]] = set()
    history: dict[tuple[int, int], Rows] = defaultdict(list)
    for row in data["answer_revisions"]:
        history[(row["inspection_id"], row["item_no"])].append(row)
    for kind, rows in (("answer", data["answers"]), ("revision", data["answer_revisions"])):
        for row in rows:
            inspection = by_id.get(row["inspection_id"])
            if inspection is None:
                continue
            problems += _valid_mark(kind, row, snapshots[inspection["standard_id"]])
    for row in data["answers"]:
        key = (row["inspection_id"], row["item_no"])
        if key in seen:
            problems.append(f"answer {key}: more than one current answer")
        seen.add(key)
        revisions = sorted(history.get(key, []), key=lambda r: r["revision"])
        numbers = [r["revision"] for r in revisions]
        if numbers != list(range(1, len(numbers) + 1)) or row["revision"] != len(numbers):
            problems.append(f"answer {key}: revisions {numbers}, current {row['revision']}")
        elif _mark(revisions[-1]) != _mark(row):
            problems.append(f"answer {key}: differs from its latest revision")
    for key in history.keys() - seen:
        problems.append(f"revisions {key} without a current answer")
    return problems


def _mark(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["score"], row["not_applicable"], row["level_label"], row["max_score"]


def _valid_mark(kind: str, row: dict[str, Any], standard: Standard) -> list[str]:
    where = f"{kind} ({row['inspection_id']}, {row['item_no']})"
    try:
        item = standard.item(row["item_no"])
    except KeyError:
        return [f"{where}: no such item in the standard"]
    if row["max_score"] != item.max_score:
        return [f"{where}: max_score {row['max_score']} is not {item.max_score}"]
    if row["not_applicable"]:
        ok = row["score"] is None and row["level_label"] == "不适用"
        return [] if ok else [f"{where}: 不适用 with score {row['score']}"]
    level = item.level_for(row["score"]) if row["score"] is not None else None
    if level is None:
        return [f"{where}: score {row['score']} is not one of the item's levels"]
    if level.label != row["level_label"]:
        return [f"{where}: label {row['level_label']!r} is not {level.label!r}"]
    return []


def _inspections(data: dict[str, Rows], snapshots: dict[int, Standard]) -> list[str]:
    problems = []
    marks: dict[int, Rows] = defaultdict(list)
    for row in data["answers"]:
        marks[row["inspection_id"]].append(row)
    for row in data["inspections"]:
        if row["status"] is not InspectionStatus.COMPLETED:
            continue
        standard = snapshots[row["standard_id"]]
        given = {a["item_no"]: a for a in marks[row["id"]]}
        if set(given) != {item.no for item in standard.items}:
            problems.append(f"inspection {row['id']}: completed with items unanswered")
            continue
        applicable = [a for a in given.values() if not a["not_applicable"]]
        score = sum(a["score"] for a in applicable)
        maximum = sum(a["max_score"] for a in applicable)
        if abs(row["score"] - score) > 1e-9 or abs(row["max_score"] - maximum) > 1e-9:
            problems.append(
                f"inspection {row['id']}: total {row['score']}/{row['max_score']} "
                f"but answers add up to {score}/{maximum}"
            )
    return problems


def _tasks(data: dict[str, Rows]) -> list[str]:
    problems = []
    events: dict[int, Rows] = defaultdict(list)
    for row in data["task_events"]:
        events[row["task_id"]].append(row)
    per_item: set[tuple[int, int]] = set()
    for task in data["tasks"]:
        history = sorted(events[task["id"]], key=lambda e: e["id"])
        if not history or history[0]["kind"] is not TaskEventKind.CREATED:
            problems.append(f"task {task['id']}: history does not start with its creation")
            continue
        status = TaskStatus.OPEN
        for event in history[1:]:
            if event["kind"] is not TaskEventKind.STATUS:
                continue
            move = (event["from_status"], event["to_status"])
            if event["from_status"] is not status or move not in ALLOWED:
                problems.append(f"task {task['id']}: status move {move} from {status}")
            status = event["to_status"]
        if status is not task["status"]:
            problems.append(f"task {task['id']}: status {task['status']}, history says {status}")
        if (task["closed_at"] is not None) != (task["status"] not in OPEN_TASK_STATUSES):
            problems.append(f"task {task['id']}: closed_at does not match status")
        if task["inspection_id"] is not None and task["status"] is not TaskStatus.WITHDRAWN:
            key = (task["inspection_id"], task["item_no"])
            if key in per_item:
                problems.append(f"task {task['id']}: a second task for item {key}")
            per_item.add(key)
    pending: dict[int, int] = defaultdict(int)
    for request in data["extension_requests"]:
        if request["status"] is ExtensionStatus.PENDING:
            pending[request["task_id"]] += 1
    problems += [f"task {t}: {n} pending extension requests" for t, n in pending.items() if n > 1]
    return problems


def _task_results(
    data: dict[str, Rows], inspections_by_id: dict[int, Any], snapshots: dict[int, Standard]
) -> list[str]:
    """A task's score is one level of its item; an open task's is the item's current answer."""
    problems = []
    current = {(row["inspection_id"], row["item_no"]): row for row in data["answers"]}
    for task in data["tasks"]:
        if task["inspection_id"] is None or task["score"] is None:
            continue
        standard = snapshots[inspections_by_id[task["inspection_id"]]["standard_id"]]
        item = standard.item(task["item_no"])
        if item.level_for(task["score"]) is None:
            problems.append(f"task {task['id']}: score {task['score']} is no level of its item")
        answer = current.get((task["inspection_id"], task["item_no"]))
        if task["status"] in OPEN_TASK_STATUSES and (
            answer is None or answer["not_applicable"] or answer["score"] != task["score"]
        ):
            problems.append(f"task {task['id']}: open at {task['score']}, the answer moved on")
    return problems


def _reminders(data: dict[str, Rows]) -> list[str]:
    problems = []
    status = {task["id"]: task["status"] for task in data["tasks"]}
    waiting: dict[tuple[int, int, str], int] = defaultdict(int)
    for row in data["reminders"]:
        if row["sent_at"] is not None or row["cancelled_at"] is not None:
            continue
        waiting[(row["task_id"], row["person_id"], row["kind"])] += 1
        if status.get(row["task_id"]) is not TaskStatus.OPEN:
            problems.append(f"reminder {row['id']}: pending for a task that is not 待整改")
    problems += [f"reminders {key}: {n} pending at once" for key, n in waiting.items() if n > 1]
    return problems


def _evidence(data: dict[str, Rows]) -> list[str]:
    problems = []
    seen: set[tuple[Any, ...]] = set()
    for row in data["evidence"]:
        if row["role"] is EvidenceRole.FIX:
            key: tuple[Any, ...] = (row["task_id"], row["sha256"])
            ok = row["task_id"] is not None
        else:
            key = (row["inspection_id"], row["item_no"], row["sha256"])
            ok = row["inspection_id"] is not None and row["item_no"] is not None
        if not ok:
            problems.append(f"evidence {row['id']}: {row['role']} photo attached to nothing")
        if key in seen:
            problems.append(f"evidence {row['id']}: the same photo stored twice for {key}")
        seen.add(key)
    return problems


def _fixes(data: dict[str, Rows]) -> list[str]:
    """Proof of a fix comes from the task's 责任人 while the task waits for it (待整改), and a
    task under review or done has some."""
    problems = []
    tasks_by_id = {task["id"]: task for task in data["tasks"]}
    closed: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
    moves = sorted(data["task_events"], key=lambda e: e["id"])
    for event in moves:
        if event["kind"] is TaskEventKind.STATUS and event["from_status"] is TaskStatus.OPEN:
            closed[event["task_id"]].append((event["at"], None))
        elif event["kind"] is TaskEventKind.STATUS and event["to_status"] is TaskStatus.OPEN:
            periods = closed[event["task_id"]]
            periods[-1] = (periods[-1][0], event["at"])
    proof = {row["task_id"] for row in data["evidence"] if row["role"] is EvidenceRole.FIX}
    for task in data["tasks"]:
        reviewed = task["status"] in (TaskStatus.REVIEW, TaskStatus.DONE)
        if reviewed and task["id"] not in proof:
            problems.append(f"task {task['id']}: {task['status']} without a photo of the fix")
    for kind, rows in (("photo", data["evidence"]), ("note", data["notes"])):
        for row in rows:
            fixed = tasks_by_id.get(row["task_id"]) if row["task_id"] is not None else None
            if fixed is None:
                continue
            if row["created_by"] != fixed["responsible_person_id"]:
                problems.append(f"fix {kind} {row['id']}: not from the task's 责任人")
            for start, end in closed[fixed["id"]]:
                if start < row["created_at"] and (end is None or row["created_at"] < end):
                    problems.append(
                        f"fix {kind} {row['id']}: added while task {fixed['id']} was not 待整改"
                    )
    return problems


def _conversations(data: dict[str, Rows]) -> list[str]:
    """Every stored state is one the model reads and would write again exactly as stored."""
    problems = []
    for row in data["conversations"]:
        state = row["state"]
        try:
            parsed = ConversationState.model_validate(state)
        except ValidationError as exc:
            problems.append(f"conversation {row['id']}: state does not validate: {exc}")
            continue
        if parsed.dump() != state:
            problems.append(f"conversation {row['id']}: state {state!r} is not the model's shape")
    return problems


def _outbox(data: dict[str, Rows]) -> list[str]:
    problems = []
    for row in data["outbox"]:
        body = row["payload"]
        if body.get("text") == ERROR_TEXT:
            problems.append(f"outbox {row['id']}: the generic error message was sent")
        for line in body.get("buttons", []):
            for _label, data_ in line:
                try:
                    payloads.decode(data_)
                except payloads.PayloadError:
                    problems.append(f"outbox {row['id']}: button payload {data_!r} is invalid")
    return problems


async def snapshot(db: Database, skip: tuple[sa.Table, ...] = ()) -> dict[str, Rows]:
    """Every row of every table except `skip` (for "this changed nothing" checks)."""
    async with db.read() as tx:
        return {
            table.name: await _rows(tx.connection, table)
            for table in TABLES_IN_ORDER
            if table not in skip
        }


BOOKKEEPING = (outbox, conversations, processed_events)
"""Tables a refused event may still write: the refusal, the chat's state row, the event key."""
