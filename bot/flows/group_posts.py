"""Posts to project groups (项目群): what the whole team of a site should see, with the people
who must act @-mentioned. No buttons, no sign-in links; every post ends with where to act.

A post is outbox rows like any other message, queued in the transaction of what caused it:
Telegram groups on the Telegram channel (the group's chat id), WeCom group robots on
`Channel.WECOM_GROUP` (chat id `g<group id>`). The payload's `group` names the group, so the
sender can tell a group that removed the bot (`gone`). Which kinds of post a site's group gets
is the company setting `group_posts` (per site); a region's groups get the 通报 and its
escalations (`region_escalations`, company-wide).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup

from bot.core import company_settings
from bot.core.dates import local, shown
from bot.core.mentions import Mentions, Who, inline
from bot.core.messages import GroupPost, Outgoing
from bot.core.report_request import ReportFormat, bulletin_request, report_request
from bot.core.scoring import grade_for
from bot.core.tasks import severity_name
from bot.core.texts import label, render
from bot.flows import notify
from bot.reports import renditions
from storage.db import Database, Tx
from storage.records import (
    Channel,
    ChatGroup,
    EvidenceKind,
    GroupKind,
    Inspection,
    OutboxKind,
    Role,
    Severity,
    Site,
    Task,
    TaskStatus,
)

log = logging.getLogger(__name__)

COUNTED_STATUSES = frozenset({TaskStatus.OPEN, TaskStatus.REVIEW, TaskStatus.DONE})
"""A finding counts in the result unless its task was withdrawn (已撤销)."""


def chat_of(group: ChatGroup) -> tuple[Channel, str]:
    """The outbox channel and chat id of a group."""
    if group.kind is GroupKind.TELEGRAM:
        assert group.chat_id is not None
        return Channel.TELEGRAM, group.chat_id
    return Channel.WECOM_GROUP, f"g{group.id}"


async def groups_for(tx: Tx, site: Site, kind: str) -> list[ChatGroup]:
    """The site's active groups that get posts of `kind` (a `group_posts` setting)."""
    settings = await company_settings.for_site(tx.settings, site)
    if not getattr(settings.group_posts, kind):
        return []
    return await tx.groups.active_for(site_id=site.id)


async def who(tx: Tx, person_id: int | None) -> Who:
    """A person with what each kind of group can mention them by."""
    person = await tx.people.get(person_id) if person_id is not None else None
    if person is None:
        return Who(name=label("common", "unassigned"))
    found: dict[Channel, str] = {}
    for identity in await tx.identities.for_person(person.id):
        found.setdefault(identity.channel, identity.external_id)
    return Who(
        name=person.name,
        wecom_userid=found.get(Channel.WECOM),
        mobile=person.phone or None,
        telegram_id=found.get(Channel.TELEGRAM),
    )


async def queue(
    tx: Tx,
    group: ChatGroup,
    template: str,
    *,
    mentions: Mentions | None = None,
    photos: Sequence[tuple[str, str]] = (),
    report: tuple[int, ReportFormat, str] | None = None,
    document: tuple[str, str] | None = None,
    bulletin: tuple[str, int | None] | None = None,
    **values: Any,
) -> None:
    """Queue one post to `group`: watermarked photos (sha256, band) first, then the text (or
    the document / report file (inspection, format, request token) / a month's 通报 (month,
    region) as a PDF with the text as its caption)."""
    channel, chat_id = chat_of(group)
    text = render(template, **values)
    named = ((), ()) if mentions is None else (tuple(mentions.userids), tuple(mentions.mobiles))
    tag = GroupPost(group.id, *named).to_payload()
    rows: list[tuple[OutboxKind, dict[str, Any]]] = []
    if photos:
        album = Outgoing(
            kind=OutboxKind.SEND_PHOTO,
            photos=tuple(sha for sha, _ in photos),
            bands=tuple(band for _, band in photos),
        )
        rows.append((album.kind, album.to_payload()))
    if report is not None:
        kind = OutboxKind.SEND_PHOTO if report[1] is ReportFormat.PNG else OutboxKind.SEND_DOCUMENT
        message = Outgoing(kind=kind, text=text)
        rows.append((kind, message.to_payload() | report_request(*report)))
    elif bulletin is not None:
        message = Outgoing(kind=OutboxKind.SEND_DOCUMENT, text=text)
        request = bulletin_request(bulletin[0], bulletin[1], ReportFormat.PDF)
        rows.append((message.kind, message.to_payload() | request))
    elif document is not None:
        sha256, name = document
        message = Outgoing(
            kind=OutboxKind.SEND_DOCUMENT, text=text, document=sha256, document_name=name
        )
        rows.append((message.kind, message.to_payload()))
    else:
        message = Outgoing(kind=OutboxKind.SEND, text=text)
        rows.append((message.kind, message.to_payload()))
    for kind, payload in rows:
        await tx.outbox.enqueue(channel, chat_id, kind, payload | tag)


async def inspection_result(
    tx: Tx, site: Site, inspection: Inspection, title: str, *, asked: str
) -> None:
    """A submitted inspection's result: score, grade, findings by severity, and the chart.

    The charts belong to the request `asked` of the report files queued in this transaction
    (bot.flows.summaries.queue_report_files): one model read serves them all."""
    groups = await groups_for(tx, site, "inspection_result")
    if not groups:
        return
    settings = await company_settings.for_site(tx.settings, site)
    tasks = [
        t for t in await tx.tasks.for_inspection(inspection.id) if t.status in COUNTED_STATUSES
    ]
    counts = {severity: 0 for severity in Severity}
    for task in tasks:
        counts[task.severity] += 1
    severities = [
        (severity_name(settings, severity), counts[severity]) for severity in reversed(Severity)
    ]
    score, top = inspection.score, inspection.max_score
    percent = score / top * 100 if score is not None and top else None
    grade = grade_for(percent, settings.grade_bands) or ""
    inspector = await who(tx, inspection.inspector_id)
    for group in groups:
        await queue(
            tx,
            group,
            "group_inspection_result",
            report=(inspection.id, ReportFormat.PNG, asked),
            site=site.name,
            title=title,
            inspector=inspector.name,
            finished=shown(inspection.completed_at or tx.now(), site.timezone),
            score=score,
            max_score=top,
            percent=percent,
            grade=grade,
            severities=severities,
            total=len(tasks),
        )


async def serious_finding(tx: Tx, task: Task) -> None:
    """A new 严重不合格 at once, with its photos (watermarked), the 责任人 @-mentioned."""
    site = await tx.sites.get(task.site_id)
    if site is None or task.severity is not Severity.SERIOUS:
        return
    groups = await groups_for(tx, site, "serious_findings")
    if not groups:
        return
    settings = await company_settings.for_site(tx.settings, site)
    photos = await finding_photos(tx, site, task)
    responsible = await who(tx, task.responsible_person_id)
    for group in groups:
        mentions = Mentions()
        await queue(
            tx,
            group,
            "group_serious_finding",
            mentions=mentions,
            photos=photos,
            site=site.name,
            task=task,
            severity=severity_name(settings, task.severity),
            due=task.due_date.isoformat() if task.due_date else label("common", "undecided"),
            responsible=Markup(inline(group.kind is GroupKind.TELEGRAM, responsible, mentions)),
        )


async def finding_photos(tx: Tx, site: Site, task: Task) -> list[tuple[str, str]]:
    """The finding's photos with their watermark bands: 项目 · 第 N 项 · 拍摄/接收 time · who."""
    if task.inspection_id is None or task.item_no is None:
        return []
    shots = [
        e
        for e in await tx.evidence.for_item(task.inspection_id, task.item_no)
        if e.kind is EvidenceKind.PHOTO
    ]
    return [(stamp.sha256, stamp.band) for stamp in await renditions.stamped(tx, shots)]


async def overdue_list(tx: Tx, site: Site, group: ChatGroup, now: datetime) -> int:
    """The site's overdue tasks, grouped by 责任人 and @-mentioning each; nothing is posted
    when none is overdue. Returns how many tasks were listed."""
    today = local(now, site.timezone).date()
    overdue = await tx.tasks.overdue([site.id], today)
    if not overdue:
        return 0
    by_person: dict[int | None, list[Task]] = {}
    for task in overdue:
        by_person.setdefault(task.responsible_person_id, []).append(task)
    mentions = Mentions()
    people = []
    for person_id, tasks in by_person.items():
        person = await who(tx, person_id)
        people.append(
            {
                "mention": Markup(inline(group.kind is GroupKind.TELEGRAM, person, mentions)),
                "tasks": [
                    {
                        "id": t.id,
                        "item_no": t.item_no,
                        "finding": t.finding,
                        "due": t.due_date.isoformat() if t.due_date else "",
                        "days": (today - t.due_date).days if t.due_date else 0,
                    }
                    for t in tasks
                ],
            }
        )
    await queue(
        tx,
        group,
        "group_overdue",
        mentions=mentions,
        site=site.name,
        people=people,
        total=len(overdue),
    )
    return len(overdue)


async def fixes_verified(tx: Tx, site: Site, group: ChatGroup, now: datetime) -> int:
    """The fixes verified since the group's last such post, one line each, in one post."""
    after = group.fixes_posted_until or group.created_at
    done = await tx.tasks.done_between(site.id, after, now)
    await tx.groups.fixes_posted(group.id, now)
    if not done:
        return 0
    names = {
        p.id: p.name
        for p in await tx.people.get_many(
            {t.responsible_person_id for t in done if t.responsible_person_id is not None}
        )
    }
    lines = [
        {
            "id": t.id,
            "item_no": t.item_no,
            "finding": t.finding,
            "responsible": names.get(t.responsible_person_id or 0, label("common", "unassigned")),
        }
        for t in done
    ]
    await queue(tx, group, "group_fixes_verified", site=site.name, lines=lines)
    return len(done)


@dataclass(frozen=True)
class RegionEscalation:
    """A task whose 逾期督办 reached its region's managers, and how many days overdue."""

    task: Task
    site: Site
    days: int


async def region_escalations(tx: Tx, region_id: int, rungs: Sequence[RegionEscalation]) -> int:
    """The tasks escalated to the region in one sweep, one line each in one post to each of
    the region's active groups, each 责任人 @-mentioned. Queued in the sweep's transaction, so
    it goes once with the rungs. The setting `group_posts.region_escalations` is read
    company-wide (a region has no settings of its own). Returns how many groups were posted."""
    settings = await company_settings.for_site(tx.settings)
    if not rungs or not settings.group_posts.region_escalations:
        return 0
    groups = await tx.groups.active_for(region_id=region_id)
    region = await tx.regions.get(region_id)
    if not groups or region is None:
        return 0
    ordered = sorted(rungs, key=lambda r: (r.site.name, r.task.item_no or 0, r.task.id))
    people = {r.task.id: await who(tx, r.task.responsible_person_id) for r in ordered}
    for group in groups:
        mentions = Mentions()
        telegram = group.kind is GroupKind.TELEGRAM
        lines = [
            {
                "id": r.task.id,
                "site": r.site.name,
                "item_no": r.task.item_no,
                "responsible": Markup(inline(telegram, people[r.task.id], mentions)),
                "days": r.days,
            }
            for r in ordered
        ]
        await queue(
            tx,
            group,
            "group_region_escalations",
            mentions=mentions,
            region=region.name,
            lines=lines,
        )
    return len(groups)


async def post_file(
    db: Database,
    data: bytes,
    filename: str,
    caption: str,
    *,
    site_id: int | None = None,
    region_id: int | None = None,
) -> int:
    """Post a file (the monthly 通报, say) with a caption to the site's or the region's active
    groups; returns how many groups it was queued for. The caller wakes the workers or lets
    them find the rows."""
    if (site_id is None) == (region_id is None):
        raise ValueError("give a site or a region")
    stored = await db.files.put(data)
    async with db.transaction() as tx:
        groups = await tx.groups.active_for(site_id=site_id, region_id=region_id)
        for group in groups:
            await queue(
                tx,
                group,
                "group_file",
                document=(stored.sha256, filename),
                caption=caption,
            )
    return len(groups)


async def managers_of(tx: Tx, group: ChatGroup) -> list[int]:
    """The managers of the group's site (or region)."""
    if group.site_id is not None:
        found = await tx.roles.held_at(Role.MANAGER, site_id=group.site_id)
    else:
        found = await tx.roles.held_at(Role.MANAGER, region_id=group.region_id)
    return [p.id for p in found]


async def gone(db: Database, group_id: int, reason: str) -> None:
    """The group removed the bot (Telegram 403, WeCom invalid key): it is marked inactive with
    one log line and the managers are told; its other queued posts are dropped as they come."""
    async with db.transaction() as tx:
        group = await tx.groups.get(group_id)
        if group is None or not await tx.groups.deactivate(group_id):
            return
        scope = await scope_name(tx, group)
        log.warning(
            "group %s (%s, %s) no longer takes the bot's posts (%s): marked inactive",
            group.id,
            group.kind.value,
            scope,
            reason,
        )
        for person_id in await managers_of(tx, group):
            await notify.to_person(
                tx, person_id, "group_inactive", scope=scope, kind=group.kind.value
            )


async def scope_name(tx: Tx, group: ChatGroup) -> str:
    if group.site_id is not None:
        site = await tx.sites.get(group.site_id)
        return site.name if site else f"#{group.site_id}"
    region = await tx.regions.get(group.region_id) if group.region_id is not None else None
    return region.name if region else f"#{group.region_id}"
