"""The KPIs of docs/KPI.md for a month and a scope of sites, grouped per site, region,
责任人, inspector and item of the standard: the one computation behind `pinjian kpi`, /统计
and the monthly 通报. The rules are bot/core/kpi.py; this module gathers the facts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.dates import local
from bot.core.kpi import Period, ResultTally, ScoreTally, TaskFact, TaskTally
from bot.core.texts import label
from standards.pinned import pinned
from storage.db import Tx
from storage.records import (
    OPEN_TASK_STATUSES,
    Inspection,
    ResultStatus,
    Site,
    Task,
    TaskStatus,
)


def fact(task: Task, timezone: str) -> TaskFact:
    done = task.status is TaskStatus.DONE
    return TaskFact(
        due=task.due_date,
        done=done,
        open=task.status in OPEN_TASK_STATUSES,
        withdrawn=task.status is TaskStatus.WITHDRAWN,
        completed_on=local(task.closed_at, timezone).date() if done and task.closed_at else None,
    )


async def scope_sites(tx: Tx, site_ids: Collection[int] | None = None) -> list[Site]:
    """The active sites of the scope (all of them for None), by name."""
    return [s for s in await tx.sites.all() if site_ids is None or s.id in site_ids]


async def completed_in(tx: Tx, period: Period, sites: Iterable[Site]) -> list[Inspection]:
    """The inspections of the sites completed in the period, each by its site's calendar."""
    by_id = {s.id: s for s in sites}
    since = datetime.combine(period.first - timedelta(days=1), time(), UTC)
    until = datetime.combine(period.last + timedelta(days=1), time(), UTC)
    found = await tx.inspections.completed_between(since, until, site_ids=list(by_id))
    return [
        i
        for i in found
        if i.completed_at is not None
        and period.contains(local(i.completed_at, by_id[i.site_id].timezone).date())
    ]


async def month_kpis(
    tx: Tx, period: Period, now: datetime, *, site_ids: Collection[int] | None = None
) -> dict[str, Any]:
    """The stable `pinjian kpi --json` object (docs/KPI.md), plus `company` (the scope's
    totals). Rows carry their database `id` besides the documented keys."""
    sites = await scope_sites(tx, site_ids)
    by_id = {s.id: s for s in sites}
    regions = {r.id: r for r in await tx.regions.all()}
    inspections = await completed_in(tx, period, sites)

    site_scores: dict[int, ScoreTally] = defaultdict(ScoreTally)
    region_scores: dict[int, ScoreTally] = defaultdict(ScoreTally)
    company_score = ScoreTally()
    site_results: dict[int, ResultTally] = defaultdict(ResultTally)
    region_results: dict[int, ResultTally] = defaultdict(ResultTally)
    company_results = ResultTally()
    statuses = await tx.confirmations.statuses(i.id for i in inspections)
    for inspection in inspections:
        region_id = by_id[inspection.site_id].region_id
        tallies = [site_scores[inspection.site_id], company_score]
        results = [site_results[inspection.site_id], company_results]
        if region_id is not None:
            tallies.append(region_scores[region_id])
            results.append(region_results[region_id])
        for tally in tallies:
            tally.add(inspection.score, inspection.max_score)
        for result in results:
            result.add(statuses[inspection.id] is ResultStatus.CONFIRMED)

    ids = list(by_id)
    tasks = {t.id: t for t in await tx.tasks.due_between(period.first, period.last, site_ids=ids)}
    tasks |= {t.id: t for t in await tx.tasks.open_due_before(period.last, site_ids=ids)}
    site_tasks: dict[int, TaskTally] = defaultdict(TaskTally)
    region_tasks: dict[int, TaskTally] = defaultdict(TaskTally)
    person_tasks: dict[int | None, TaskTally] = defaultdict(TaskTally)
    company_tasks = TaskTally()
    for task in tasks.values():
        site = by_id[task.site_id]
        today = now.astimezone(ZoneInfo(site.timezone)).date()
        counters = [site_tasks[site.id], person_tasks[task.responsible_person_id], company_tasks]
        if site.region_id is not None:
            counters.append(region_tasks[site.region_id])
        for counter in counters:
            counter.add(fact(task, site.timezone), period, today)

    in_scope_regions = sorted(
        {s.region_id for s in sites if s.region_id in regions}, key=lambda r: regions[r].name
    )
    return {
        "month": period.label,
        "sites": [
            {
                "id": site.id,
                "site": site.name,
                "region": regions[site.region_id].name if site.region_id in regions else None,
                **site_scores[site.id].measures(),
                **site_results[site.id].measures(),
                **site_tasks[site.id].measures(),
            }
            for site in sites
        ],
        "regions": [
            {
                "id": region_id,
                "region": regions[region_id].name,
                **region_scores[region_id].measures(),
                **region_results[region_id].measures(),
                **region_tasks[region_id].measures(),
            }
            for region_id in in_scope_regions
        ],
        "responsible": await _responsible(tx, person_tasks),
        "inspectors": await _inspectors(tx, inspections),
        "items": await _items(tx, inspections),
        "company": {
            **company_score.measures(),
            **company_results.measures(),
            **company_tasks.measures(),
        },
    }


async def _responsible(tx: Tx, tallies: dict[int | None, TaskTally]) -> list[dict[str, Any]]:
    people = {p.id: p.name for p in await tx.people.get_many(k for k in tallies if k)}
    rows = [
        {
            "id": person_id,
            "person": label("common", "unassigned") if person_id is None else people[person_id],
            **tally.measures(),
        }
        for person_id, tally in tallies.items()
        if person_id is None or person_id in people
    ]
    rows.sort(key=lambda r: (-r["overdue_open"], -r["tasks"], r["person"]))
    return rows


async def _inspectors(tx: Tx, inspections: list[Inspection]) -> list[dict[str, Any]]:
    counts: dict[int, int] = defaultdict(int)
    findings: dict[int, int] = defaultdict(int)
    inspector_of = {i.id: i.inspector_id for i in inspections}
    for inspection in inspections:
        counts[inspection.inspector_id] += 1
    for inspection_id, _, _ in await tx.answers.losing(inspector_of):
        findings[inspector_of[inspection_id]] += 1
    people = {p.id: p.name for p in await tx.people.get_many(counts)}
    return sorted(
        (
            {
                "id": person_id,
                "person": people[person_id],
                "inspections": count,
                "findings": findings[person_id],
            }
            for person_id, count in counts.items()
            if person_id in people
        ),
        key=lambda r: (-r["inspections"], r["person"]),
    )


async def _items(tx: Tx, inspections: list[Inspection]) -> list[dict[str, Any]]:
    """Per item of a standard: how often it lost points and how many, most often first."""
    by_id = {i.id: i for i in inspections}
    findings: dict[tuple[str, int], int] = defaultdict(int)
    lost: dict[tuple[str, int], float] = defaultdict(float)
    contents: dict[tuple[str, int], str] = {}
    for inspection_id, item_no, points in await tx.answers.losing(by_id):
        inspection = by_id[inspection_id]
        key = (inspection.std_id, item_no)
        findings[key] += 1
        lost[key] += points
        if key not in contents:
            contents[key] = await item_content(tx, inspection.standard_id, item_no)
    rows: list[dict[str, Any]] = [
        {
            "standard": std_id,
            "no": item_no,
            "content": contents[(std_id, item_no)],
            "findings": count,
            "points_lost": round(lost[(std_id, item_no)], 2),
        }
        for (std_id, item_no), count in findings.items()
    ]
    rows.sort(key=lambda r: (-r["findings"], -r["points_lost"], r["standard"], r["no"]))
    return rows


async def item_content(tx: Tx, standard_id: int, item_no: int) -> str:
    """The item's 标准内容 in the standard an inspection was scored against."""
    stored = await tx.standards.get(standard_id)
    if stored is None:
        return ""
    try:
        return pinned(stored).item(item_no).content
    except KeyError:
        return ""
