"""The enums a rectification task is described with: its stored states, severity and events."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Protocol

from bot.core.texts import label


class Severity(StrEnum):
    """A finding's severity, mildest first; its name is a company setting (`severity_names`)."""

    OBSERVATION = "observation"
    GENERAL = "general"
    SERIOUS = "serious"


class TaskStatus(StrEnum):
    """Stored task states; 逾期 (overdue) is derived from due_date and never stored.
    WITHDRAWN (已撤销): the item's answer no longer loses points; the task is closed."""

    OPEN = "open"
    REVIEW = "review"
    DONE = "done"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return label("task_status", self.value)


OPEN_TASK_STATUSES = (TaskStatus.OPEN, TaskStatus.REVIEW)


class TaskEventKind(StrEnum):
    CREATED = "created"
    STATUS = "status"
    DUE_CHANGED = "due_changed"
    REASSIGNED = "reassigned"
    REMARK = "remark"
    EXTENSION_REQUESTED = "extension_requested"
    EXTENSION_APPROVED = "extension_approved"
    EXTENSION_REJECTED = "extension_rejected"
    REMINDER_SENT = "reminder_sent"
    ESCALATED = "escalated"
    RESCORED = "rescored"


class TaskView(Protocol):
    """What the task rules read of a task (storage.records.Task is one)."""

    @property
    def status(self) -> TaskStatus: ...

    @property
    def responsible_person_id(self) -> int | None: ...

    @property
    def created_by(self) -> int | None: ...

    @property
    def score(self) -> float | None: ...

    @property
    def due_date(self) -> date | None: ...

    def is_overdue(self, today: date) -> bool: ...


class TaskEventView(Protocol):
    """What the task rules read of a task's event (storage.records.TaskEvent is one)."""

    @property
    def kind(self) -> TaskEventKind: ...

    @property
    def to_status(self) -> TaskStatus | None: ...

    @property
    def actor_id(self) -> int | None: ...
