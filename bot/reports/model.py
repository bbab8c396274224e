"""Everything a report shows, read from storage in one read transaction.

Renderers (Excel, PDF, chart) get only a `ReportModel`: plain frozen dataclasses that pickle to
a worker process and hash to a cache key, so a report is rendered again only when its content
changed (an answer, a task's status, or the report date that decides 逾期).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.core import company_settings
from bot.core import tasks as lifecycle
from bot.core.dates import local, shown
from bot.core.scoring import GradeBands, Mark, Totals, totals
from bot.core.texts import label, labels, plain
from bot.reports import photo_place, photo_reuse, photo_time, renditions
from standards.pinned import parsed, pinned
from standards.schema import Standard
from storage.db import Database, Tx
from storage.records import (
    Evidence,
    EvidenceKind,
    EvidenceRole,
    Inspection,
    InspectionStatus,
    Task,
    TaskStatus,
)

log = logging.getLogger(__name__)

ITEM_HEADERS = labels(
    "columns",
    "no",
    "content",
    "rule",
    "max_score",
    "score",
    "responsible",
    "status",
    "due",
    "remark",
)
"""The item table's column headers, the same in the Excel form and the PDF."""

FIXED = {TaskStatus.REVIEW, TaskStatus.DONE}


class ReportError(Exception):
    """A report that cannot be made; the message is Chinese + English for the CLI and logs."""


@dataclass(frozen=True)
class Photo:
    sha256: str
    caption: str
    band: str = ""
    """The watermark printed across the photo (bot.reports.watermark): 项目 · 第 N 项 · 拍摄 or
    接收 time · who took it."""


@dataclass(frozen=True)
class ItemRow:
    """One line of the paper form (序号 … 备注); `score` is None for 不适用."""

    no: int
    content: str
    rule: str
    max_score: float
    score: float | None
    not_applicable: bool
    level: str
    responsible: str
    status: str
    due: date | None
    remark: str
    photos: tuple[Photo, ...]
    fix_photos: tuple[Photo, ...] = ()
    """整改后: the photos of the fix, once the item's task was submitted (待复查 or 已完成)."""

    @property
    def score_text(self) -> str:
        if self.not_applicable:
            return label("common", "not_applicable")
        return "" if self.score is None else f"{self.score:g}"


@dataclass(frozen=True)
class SectionRow:
    code: str
    title: str
    score: float
    applicable_max: float
    percent: float | None
    previous_percent: float | None
    items: tuple[ItemRow, ...]

    @property
    def heading(self) -> str:
        return plain("report", "section", code=self.code, title=self.title)

    @property
    def change(self) -> float | None:
        if self.percent is None or self.previous_percent is None:
            return None
        return self.percent - self.previous_percent

    @property
    def change_text(self) -> str:
        """↑ 5.0 个百分点 / ↓ 2.5 个百分点 / 持平, or — without a previous inspection."""
        return change_text(self.change)


@dataclass(frozen=True)
class TaskRow:
    id: int
    item_no: int | None
    finding: str
    severity: str
    responsible: str
    status: str
    due: date | None
    remark: str


@dataclass(frozen=True)
class Previous:
    """The site's inspection of the same standard completed just before this one."""

    inspection_id: int
    completed: str
    score: float
    applicable_max: float
    percent: float | None


@dataclass(frozen=True)
class AppealRow:
    item_no: int
    filed_by: str
    filed_at: str
    reason: str
    decision: str
    """维持 / 改判 / 撤销, or 待裁决."""
    decided_by: str
    decided_at: str
    decision_reason: str
    score_before: float | None
    score_after: float | None


@dataclass(frozen=True)
class SignOff:
    """The result's signatures: the inspector's at submission, the 项目负责人's (确认 or
    逾期自动确认), and the appeals with their decisions. Each decision makes a new revision."""

    inspector: str
    submitted: str
    status: str
    responsible: str
    confirmed: str
    how: str
    deadline: str
    appeals: tuple[AppealRow, ...]

    @property
    def revision(self) -> int:
        return 1 + sum(1 for a in self.appeals if a.decided_at)


@dataclass(frozen=True)
class ReportModel:
    inspection_id: int
    title: str
    std_id: str
    std_version: str
    site: str
    timezone: str
    inspector: str
    started: str
    completed: str
    report_date: date
    score: float
    applicable_max: float
    percent: float | None
    grade: str | None
    items_total: int
    not_applicable: int
    sections: tuple[SectionRow, ...]
    tasks: tuple[TaskRow, ...]
    previous: Previous | None
    bands: GradeBands
    signoff: SignOff | None = None
    """None for an inspection submitted before 项目确认 existed."""

    @property
    def items(self) -> list[ItemRow]:
        return [item for section in self.sections for item in section.items]

    @property
    def photo_count(self) -> int:
        return sum(len(item.photos) + len(item.fix_photos) for item in self.items)

    @property
    def change(self) -> float | None:
        if self.previous is None or self.percent is None or self.previous.percent is None:
            return None
        return self.percent - self.previous.percent

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON form: the cache key of the rendered files."""
        data = json.dumps(_plain(self), ensure_ascii=False, sort_keys=True, default=str)
        return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _plain(value: object) -> object:
    """The JSON form `dataclasses.asdict` gives the model, without its deep copy of every
    value (which took most of the hash's time: for the N = 50 capacity goal,
    docs/BENCHMARKS.md)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    names = _field_names(type(value))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    return value


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    """A dataclass's field names (None for any other type), looked up once per class."""
    if cls not in _FIELD_NAMES:
        is_dataclass = dataclasses.is_dataclass(cls)
        _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls)) if is_dataclass else None
    return _FIELD_NAMES[cls]


def change_text(change: float | None) -> str:
    """The score rate against the previous inspection in percentage points, worded as the
    chat words it (较上次 ↓ 5.8 个百分点)."""
    if change is None:
        return "—"
    if abs(change) < 0.05:
        return label("scores", "unchanged")
    return plain("scores", "change", delta=change)


def percent_text(percent: float | None) -> str:
    return "—" if percent is None else f"{percent:.1f}%"


async def load_report(db: Database, inspection_id: int) -> ReportModel:
    """The report of a completed inspection, read in one transaction (a consistent view)."""
    async with db.read() as tx:
        return await build(tx, inspection_id)


async def build(tx: Tx, inspection_id: int) -> ReportModel:
    found = await tx.inspections.with_site(inspection_id)
    if found is None:
        raise ReportError(plain("report", "no_inspection", id=inspection_id))
    inspection, site = found
    if inspection.status is not InspectionStatus.COMPLETED or inspection.completed_at is None:
        raise ReportError(
            plain("report", "not_completed", id=inspection_id, status=inspection.status.value)
        )
    standard = await _pinned(tx, inspection.standard_id)
    if standard is None:
        raise ReportError(plain("report", "incomplete", id=inspection_id))
    zone = site.timezone
    settings = await company_settings.for_site(tx.settings, site)
    bands = settings.grade_bands  # company-wide (company_settings.grade_bands)
    answers = {a.item_no: a for a in await tx.answers.marks(inspection_id)}
    result = totals(
        standard,
        {n: Mark(score=a.score, not_applicable=a.not_applicable) for n, a in answers.items()},
        bands,
    )
    tasks = [  # a withdrawn task is no finding of the report
        t
        for t in await tx.tasks.for_inspection(inspection_id)
        if t.status is not TaskStatus.WITHDRAWN
    ]
    notes: dict[int, list[str]] = defaultdict(list)
    for note in await tx.notes.for_inspection(inspection_id):
        if note.item_no is not None:
            notes[note.item_no].append(note.text)
    photos: dict[int, list[Photo]] = defaultdict(list)
    max_age = settings.photo_max_age_hours
    evidence = await tx.evidence.for_inspection(inspection_id)
    findings = [
        ev for ev in evidence if ev.kind is EvidenceKind.PHOTO and ev.role is EvidenceRole.FINDING
    ]
    by_item = {t.item_no: t for t in tasks if t.item_no is not None}
    fix_shots = await _fix_photos(tx, inspection_id, by_item)
    at_site = (
        await photo_reuse.site_photos(tx, site.id, days=settings.reuse_days, now=tx.now())
        if fix_shots
        else []
    )
    # Everyone the report names, read at once (the statements were most of a report's reading).
    people = await _names(
        tx,
        {inspection.inspector_id, *(ev.created_by for ev in findings)}
        | {t.responsible_person_id for t in tasks if t.responsible_person_id is not None}
        | {e.created_by for shots in fix_shots.values() for e in shots},
    )

    def band(ev: Evidence, no: int) -> str:
        return renditions.band(
            ev, site.name, plain("report", "item", no=no), zone, _name(people, ev.created_by)
        )

    for ev in findings:
        if ev.item_no is not None:
            photos[ev.item_no].append(Photo(ev.sha256, ev.caption or "", band(ev, ev.item_no)))
    radius = settings.photo_max_distance_m
    for ev, metres in photo_place.far_from_site(findings, site, radius):
        if ev.item_no is not None:
            far = photo_place.shown_distance(metres)
            notes[ev.item_no].append(plain("report", "photo_far", distance=far, radius=radius))
    old = photo_time.findings_taken_before(findings, inspection.started_at, zone, max_age)
    for ev in old:
        if ev.item_no is not None and (at := photo_time.taken(ev, zone)) is not None:
            notes[ev.item_no].append(
                plain("report", "photo_old", taken=shown(at, zone), hours=max_age)
            )
    today = local(tx.now(), zone).date()
    fixes: dict[int, tuple[Photo, ...]] = {}
    for no, shots in fix_shots.items():
        task = by_item[no]
        fixes[no] = tuple(Photo(e.sha256, e.caption or "", band(e, no)) for e in shots)
        for ev in photo_time.fixes_taken_before(shots, task.created_at, zone):
            if (at := photo_time.taken(ev, zone)) is not None:
                notes[no].append(plain("report", "fix_photo_early", taken=shown(at, zone)))
        for _, metres in photo_place.far_from_site(shots, site, radius):
            far = photo_place.shown_distance(metres)
            notes[no].append(plain("report", "fix_photo_far", distance=far, radius=radius))
        # The item's evidence as tx.evidence.for_item gives it (photo_reuse.reused).
        before = [e for e in evidence if e.item_no == no and e.role is not EvidenceRole.APPEAL]
        pairs = photo_reuse.matches(task, shots, [*before, *at_site], settings.reuse_max_distance)
        for _, earlier in pairs:
            where = (
                plain("report", "item", no=earlier.item_no)
                if earlier.item_no
                else plain("report", "task", id=earlier.task_id)
            )
            day = local(earlier.created_at, zone).strftime("%m-%d")
            notes[no].append(plain("report", "fix_photo_reused", day=day, where=where))
    previous, previous_sections = await _previous(tx, inspection, standard, bands, zone)

    def task_status(task: Task) -> str:
        return label("report", "overdue") if task.is_overdue(today) else task.status.label

    def item_row(no: int) -> ItemRow:
        item = standard.item(no)
        answer = answers.get(no)
        task = by_item.get(no)
        remark = [*notes.get(no, []), *([task.remark] if task and task.remark else [])]
        return ItemRow(
            no=no,
            content=item.content,
            rule=item.rule,
            max_score=item.max_score,
            score=None if answer is None or answer.not_applicable else answer.score,
            not_applicable=bool(answer and answer.not_applicable),
            level=(answer.level_label or "") if answer else "",
            responsible=_name(people, task.responsible_person_id) if task else "",
            status=task_status(task) if task else "",
            due=task.due_date if task else None,
            remark=plain("common", "semicolons", items=remark),
            photos=tuple(photos.get(no, [])),
            fix_photos=fixes.get(no, ()),
        )

    sections = tuple(
        SectionRow(
            code=total.code,
            title=total.title,
            score=total.score,
            applicable_max=total.applicable_max,
            percent=total.percent,
            previous_percent=previous_sections.get(total.code),
            items=tuple(item_row(item.no) for item in section.items),
        )
        for section, total in zip(standard.sections, result.sections, strict=True)
    )
    return ReportModel(
        inspection_id=inspection.id,
        title=standard.title,
        std_id=standard.id,
        std_version=standard.version,
        site=site.name,
        timezone=site.timezone,
        inspector=_name(people, inspection.inspector_id),
        started=shown(inspection.started_at, zone),
        completed=shown(inspection.completed_at, zone),
        report_date=today,
        score=result.score,
        applicable_max=result.applicable_max,
        percent=result.percent,
        grade=result.grade,
        items_total=result.items,
        not_applicable=sum(1 for a in answers.values() if a.not_applicable),
        sections=sections,
        tasks=tuple(
            TaskRow(
                id=t.id,
                item_no=t.item_no,
                finding=t.finding,
                severity=lifecycle.severity_name(settings, t.severity),
                responsible=_name(people, t.responsible_person_id),
                status=task_status(t),
                due=t.due_date,
                remark=t.remark or "",
            )
            for t in sorted(tasks, key=lambda t: (t.item_no or 0, t.id))
        ),
        previous=previous,
        bands=bands,
        signoff=await _signoff(tx, inspection, zone, people),
    )


async def _fix_photos(
    tx: Tx, inspection_id: int, by_item: dict[int, Task]
) -> dict[int, list[Evidence]]:
    """The photos of each fix submitted (待复查 or 已完成), by item."""
    fixed = {task.id: no for no, task in by_item.items() if task.status in FIXED}
    if not fixed:
        return {}
    found: dict[int, list[Evidence]] = {no: [] for no in fixed.values()}
    for ev in await tx.evidence.fixes_of_inspection(inspection_id):
        if ev.task_id in fixed and ev.kind is EvidenceKind.PHOTO:
            found[fixed[ev.task_id]].append(ev)
    return found


async def _names(
    tx: Tx, person_ids: set[int], known: dict[int, str] | None = None
) -> dict[int, str]:
    """The names of `person_ids` by id, reading only those not `known` already."""
    names = dict(known or {})
    missing = person_ids - names.keys()
    if missing:
        names |= {p.id: p.name for p in await tx.people.get_many(missing)}
    return names


async def _signoff(
    tx: Tx, inspection: Inspection, zone: str, known: dict[int, str]
) -> SignOff | None:
    when = await tx.confirmations.get(inspection.id)
    if when is None or inspection.completed_at is None:
        return None
    appeals = await tx.confirmations.appeals(inspection.id)
    ids = {inspection.inspector_id, *(a.filed_by for a in appeals)}
    ids |= {p for p in (when.confirmed_by, *(a.decided_by for a in appeals)) if p is not None}
    people = await _names(tx, ids, known)
    return SignOff(
        inspector=_name(people, inspection.inspector_id),
        submitted=shown(inspection.completed_at, zone),
        status=when.status.label,
        responsible=_name(people, when.confirmed_by),
        confirmed=shown(when.confirmed_at, zone) if when.confirmed_at else "",
        how=when.how.label if when.how else "",
        deadline=shown(when.deadline, zone),
        appeals=tuple(
            AppealRow(
                item_no=a.item_no,
                filed_by=_name(people, a.filed_by),
                filed_at=shown(a.filed_at, zone),
                reason=a.reason,
                decision=a.decision.label if a.decision else label("appeal_decision", "undecided"),
                decided_by=_name(people, a.decided_by),
                decided_at=shown(a.decided_at, zone) if a.decided_at else "",
                decision_reason=a.decision_reason or "",
                score_before=a.score_before,
                score_after=a.score_after,
            )
            for a in appeals
        ),
    )


def _name(people: dict[int, str], person_id: int | None) -> str:
    return people.get(person_id, "") if person_id is not None else ""


async def _pinned(tx: Tx, standard_id: int) -> Standard | None:
    """The stored standard, its snapshot read and parsed only if this process has not parsed
    that content yet (it is most of the statement's bytes and decoding)."""
    content_hash = await tx.standards.content_hash(standard_id)
    if content_hash is None:
        return None
    standard = parsed(content_hash)
    if standard is None:
        stored = await tx.standards.get(standard_id)
        standard = pinned(stored) if stored is not None else None
    return standard


async def _previous(
    tx: Tx,
    inspection: Inspection,
    standard: Standard,
    bands: Sequence[tuple[float, str]],
    zone: str,
) -> tuple[Previous | None, dict[str, float | None]]:
    """The inspection before this one (same site and standard) and its section percentages.

    It may have been scored against another version of the standard (`standard` is this
    one's): sections are matched by their code (一、二、…), and its own pinned snapshot gives
    its maxima.
    """
    assert inspection.completed_at is not None
    before = await tx.inspections.completed_before(
        inspection.site_id, inspection.std_id, inspection.completed_at, inspection.id
    )
    if before is None:
        return None, {}
    earlier = (
        standard
        if before.standard_id == inspection.standard_id
        else await _pinned(tx, before.standard_id)
    )
    if earlier is None or before.completed_at is None:
        return None, {}
    marks = {
        a.item_no: Mark(score=a.score, not_applicable=a.not_applicable)
        for a in await tx.answers.marks(before.id)
    }
    result: Totals = totals(earlier, marks, bands)
    previous = Previous(
        inspection_id=before.id,
        completed=shown(before.completed_at, zone),
        score=result.score,
        applicable_max=result.applicable_max,
        percent=result.percent,
    )
    return previous, {s.code: s.percent for s in result.sections}


def totals_values(model: ReportModel) -> dict[str, object]:
    """The values of the result line under the item table (Excel and PDF alike)."""
    return {
        "score": model.score,
        "max_score": model.applicable_max,
        "percent": percent_text(model.percent),
        "grade": model.grade,
        "change": None if model.change is None else change_text(model.change),
    }
