"""Domain records the storage API speaks in: frozen dataclasses and string enums.

Field names equal the column names of the matching table, so a row maps onto a record
directly. Every datetime is timezone-aware UTC; `date` fields are calendar dates in the
site's own time zone. The enums the rules of bot/core speak in (channels, outbox kinds, task
states, severities and events) are defined there; storage names them here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from bot.core.events import Channel as Channel
from bot.core.messages import OutboxKind as OutboxKind
from bot.core.task_types import OPEN_TASK_STATUSES as OPEN_TASK_STATUSES
from bot.core.task_types import Severity as Severity
from bot.core.task_types import TaskEventKind as TaskEventKind
from bot.core.task_types import TaskStatus as TaskStatus
from bot.core.texts import label

JsonDict = dict[str, Any]


class GroupKind(StrEnum):
    """The kind of a project group chat the bot posts into (bot/flows/groups.py)."""

    TELEGRAM = "telegram"
    WECOM = "wecom"


class Role(StrEnum):
    """A role held at a site, a region or company-wide (see RoleGrant); admin is global and
    lives on Person.is_admin."""

    INSPECTOR = "inspector"
    RESPONSIBLE = "responsible"
    MANAGER = "manager"


class InspectionStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class EvidenceKind(StrEnum):
    PHOTO = "photo"
    DOCUMENT = "document"


class EvidenceRole(StrEnum):
    """Whether a file shows the finding (before) or the fix (after)."""

    FINDING = "finding"
    FIX = "fix"
    APPEAL = "appeal"
    """Sent with an appeal against the item's finding (申诉材料): not a finding photo."""


class ExtensionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ResultStatus(StrEnum):
    """Whether an inspection's result is binding: 待确认 until the site confirms it (or its
    window passes), 申诉中 while an appeal against one of its findings is undecided."""

    PENDING = "pending"
    APPEALED = "appealed"
    CONFIRMED = "confirmed"

    @property
    def label(self) -> str:
        return label("result_status", self.value)


class ConfirmHow(StrEnum):
    """How the site signed the result off: a manager's 确认, or the window passing."""

    CONFIRMED = "confirmed"
    AUTO = "auto"

    @property
    def label(self) -> str:
        return label("confirm_how", self.value)


class AppealDecision(StrEnum):
    UPHELD = "upheld"
    CHANGED = "changed"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return label("appeal_decision", self.value)


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


class InviteProblem(StrEnum):
    """Why an invite code could not be redeemed."""

    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True, kw_only=True)
class Region:
    """A 区域: a group of sites; a role held at a region covers all its sites."""

    id: int
    name: str
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    id: int
    name: str
    address: str
    timezone: str
    quiet_start: str
    quiet_end: str
    settings: JsonDict
    active: bool
    created_at: datetime
    region_id: int | None
    latitude: float | None = None
    longitude: float | None = None
    """Where the site is (WGS 84 degrees), if set: photos farther than the company's
    `photo_max_distance_m` are flagged."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    id: int
    name: str
    phone: str | None
    active: bool
    is_admin: bool
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleGrant:
    """A role held at one site (site_id), at one region (region_id: all its sites, present
    and future), or company-wide (neither)."""

    id: int
    person_id: int
    site_id: int | None
    role: Role
    active: bool
    created_at: datetime
    region_id: int | None

    @property
    def company_wide(self) -> bool:
        return self.site_id is None and self.region_id is None


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """A channel account bound to a person; for the web channel external_id is a token hash."""

    id: int
    person_id: int
    channel: Channel
    external_id: str
    chat_id: str | None
    display_name: str | None
    bound_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Invite:
    id: int
    code: str
    person_id: int
    channel: Channel | None
    role: Role | None
    site_id: int | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Redemption:
    """Outcome of InviteRepo.redeem: the invite and its person, or the problem."""

    invite: Invite | None
    person: Person | None
    problem: InviteProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredStandard:
    """One exact version of a standard; inspections point at it and it never changes."""

    id: int
    std_id: str
    version: str
    title: str
    content_hash: str
    snapshot: JsonDict
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Inspection:
    id: int
    site_id: int
    standard_id: int
    std_id: str
    inspector_id: int
    status: InspectionStatus
    channel: Channel | None
    cursor_item_no: int | None
    started_at: datetime
    paused_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    score: float | None
    max_score: float | None
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerMark:
    """What an item's current answer shows in the conversation (the light read of a tap)."""

    item_no: int
    score: float | None
    not_applicable: bool
    level_label: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemProgress:
    """What the conversation shows of an inspection's items, read on every tap in one
    statement (:meth:`storage.inspections.InspectionRepo.progress`)."""

    answers: list[AnswerMark]
    """The current answers by item number."""
    task_items: set[int]
    """The items that have a rectification task (one withdrawn does not count)."""
    photo_counts: dict[int, int]
    """Files per item (not those sent with an appeal)."""
    note_counts: dict[int, int]
    """Notes per item."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer(AnswerMark):
    """The current answer to one item; `revision` counts how often it was set."""

    id: int
    inspection_id: int
    max_score: float | None
    details: JsonDict
    answered_by: int
    answered_at: datetime
    revision: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerRevision:
    id: int
    inspection_id: int
    item_no: int
    revision: int
    score: float | None
    max_score: float | None
    not_applicable: bool
    level_label: str | None
    details: JsonDict
    answered_by: int
    answered_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Note:
    id: int
    inspection_id: int | None
    item_no: int | None
    task_id: int | None
    text: str
    created_by: int
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """Metadata of a stored file; the bytes live in the EvidenceStore under sha256."""

    id: int
    sha256: str
    size: int
    mime: str
    kind: EvidenceKind
    role: EvidenceRole
    channel: Channel | None
    channel_file_ref: str | None
    caption: str | None
    inspection_id: int | None
    item_no: int | None
    task_id: int | None
    created_by: int
    created_at: datetime
    taken_at: datetime | None
    """The camera's capture time from EXIF, its own wall clock with no zone; None (无拍摄时间)
    when the file carried none."""
    phash: str | None
    """The perceptual hash (16 hex digits); None for a file that is no readable image."""
    latitude: float | None = None
    longitude: float | None = None
    """Where the photo was taken, from its EXIF GPS (WGS 84 degrees); None when absent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """A rectification task (整改); `version` moves on every change."""

    id: int
    site_id: int
    inspection_id: int | None
    item_no: int | None
    finding: str
    score: float | None
    severity: Severity
    responsible_person_id: int | None
    status: TaskStatus
    due_date: date | None
    remark: str | None
    created_by: int | None
    created_at: datetime
    closed_at: datetime | None
    updated_at: datetime
    version: int

    def is_overdue(self, today: date) -> bool:
        """逾期: the target date has passed and the task is still open (not 已完成 or 已撤销)."""
        return (
            self.status in OPEN_TASK_STATUSES
            and self.due_date is not None
            and (self.due_date < today)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskEvent:
    id: int
    task_id: int
    at: datetime
    actor_id: int | None
    kind: TaskEventKind
    from_status: TaskStatus | None
    to_status: TaskStatus | None
    reason: str | None
    data: JsonDict


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCounts:
    site_id: int
    open: int
    review: int
    done: int
    overdue: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtensionRequest:
    id: int
    task_id: int
    requested_by: int
    requested_due_date: date
    reason: str | None
    status: ExtensionStatus
    decided_by: int | None
    decided_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Reminder:
    """A due time to tell the task's 责任人 (person_id), or a rung of the escalation ladder
    (no person: the level's managers are looked up when it is due)."""

    id: int
    task_id: int
    person_id: int | None
    kind: str
    due_at: datetime
    sent_at: datetime | None
    attempts: int
    claimed_by: str | None
    claim_expires_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversation:
    """Stored dialogue state of one person in one chat; `version` guards concurrent saves."""

    id: int
    person_id: int
    channel: Channel
    chat_id: str
    state: JsonDict
    version: int
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxMessage:
    id: int
    channel: Channel
    chat_id: str
    person_id: int | None
    kind: OutboxKind
    payload: JsonDict
    ref: str | None
    edit_of_ref: str | None
    not_before: datetime
    created_at: datetime
    attempts: int
    last_error: str | None
    claimed_by: str | None
    claim_expires_at: datetime | None
    sent_at: datetime | None
    channel_message_id: str | None
    status: OutboxStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    details: JsonDict


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemLoss:
    """How often one item of a standard lost points in a period (for reports)."""

    std_id: str
    item_no: int
    times: int
    points_lost: float


class PlanEvery(StrEnum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"


class PlanKind(StrEnum):
    SELF = "self"  # 自检 (周检 by the project's own staff)
    CROSS = "cross"  # 交叉检查 (staff of another project)
    QUALITY = "quality"  # 品质部检查


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """An inspection plan: at one site or every site of a region, a standard, a cadence and
    the window inside each period (days: 1–7 Monday–Sunday for a week, days of the month or
    of the quarter)."""

    id: int
    site_id: int | None
    region_id: int | None
    std_id: str
    every: PlanEvery
    window_from: int
    window_to: int
    kind: PlanKind
    active: bool
    created_at: datetime
    removed_at: datetime | None
    inspector_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Occurrence:
    """One period of a plan at one site. `opened_at`, `reminded_at` and `closed_at` say that
    the window's notice, its reminder and its closing (漏检 or the late note) were handled:
    each is set in the transaction that queues the messages, so each goes out once.
    `ended_at`: the plan was removed before this window closed (not due)."""

    id: int
    plan_id: int
    site_id: int
    period_start: date
    window_start: datetime
    window_end: datetime
    inspection_id: int | None
    ended_at: datetime | None
    opened_at: datetime | None
    reminded_at: datetime | None
    closed_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatGroup:
    """A project group (项目群) bound to a site or a region: a Telegram group chat
    (`chat_id`) or a WeCom group robot (`webhook_key`, a secret: never shown in a repr)."""

    id: int
    site_id: int | None
    region_id: int | None
    kind: GroupKind
    chat_id: str | None
    webhook_key: str | None = field(repr=False)
    title: str
    active: bool
    created_at: datetime
    inactive_at: datetime | None
    removed_at: datetime | None
    fixes_posted_until: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupCode:
    """A one-use code that binds a Telegram group to a site or region (`/bind CODE`)."""

    id: int
    code: str
    site_id: int | None
    region_id: int | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Confirmation:
    """The site's sign-off of a submitted inspection. `how`/`confirmed_by`/`confirmed_at`
    are the 项目负责人's signature (set once); `status` is 已确认 once signed and no appeal
    is undecided."""

    inspection_id: int
    site_id: int
    status: ResultStatus
    deadline: datetime
    remind_at: datetime
    reminded_at: datetime | None
    how: ConfirmHow | None
    confirmed_by: int | None
    confirmed_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Appeal:
    """An appeal against one finding (one per item) and its decision."""

    id: int
    inspection_id: int
    item_no: int
    reason: str
    filed_by: int
    filed_at: datetime
    decision: AppealDecision | None
    decided_by: int | None
    decided_at: datetime | None
    decision_reason: str | None
    score_before: float | None
    score_after: float | None
    label_after: str | None
