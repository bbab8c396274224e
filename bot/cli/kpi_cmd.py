"""`pinjian kpi`: the month's KPIs (docs/KPI.md) per site, region, 责任人, inspector and item.

The KPIs themselves are bot/flows/kpis.py (the JSON keys of docs/KPI.md). Beside them each
site, region and inspector row carries the plan measures, and `company` the scope's totals:
- plan_completion_rate (检查完成率): completed occurrences ÷ due occurrences;
- plan_on_time_rate (按时完成率): occurrences completed inside their window ÷ due;
with the counts behind them (plan_due, plan_completed, plan_on_time). An occurrence belongs
to the month its period begins in; it is due once its window has closed or it is completed.
A rate with nothing due is null. A plan's occurrences count for each inspector assigned.
Each `responsible` row carries flagged_fix_photos: fix photos received in the month that
docs/EVIDENCE.md flags (taken before the task was created, or nearly the same as an earlier
photo, or taken farther from the site than the company's radius)."""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.cli.common import CliError, SubParsers
from bot.cli.dbctx import run_with_db
from bot.config import Settings
from bot.core import company_settings
from bot.core.kpi import Period, TaskTally
from bot.core.plans import MONTH, OccurrenceStatus, next_period
from bot.flows.kpis import month_kpis
from bot.flows.plans import occurrence_status
from bot.reports import photo_place, photo_reuse, photo_time
from storage.base import utc_now
from storage.db import Database, Tx

COMPLETED = (OccurrenceStatus.DONE, OccurrenceStatus.DONE_LATE)


def register(commands: SubParsers) -> None:
    kpi = commands.add_parser("kpi", help="月度指标 (monthly measures per site, region, inspector)")
    kpi.add_argument("--month", help="月份 YYYY-MM（默认本月）")
    scope = kpi.add_mutually_exclusive_group()
    scope.add_argument("--site", help="只看这个项目")
    scope.add_argument("--region", help="只看这个区域")
    kpi.add_argument("--json", action="store_true", help="以 JSON 输出 (stable format)")
    kpi.set_defaults(handler=_kpi)


@dataclass
class Tally:
    due: int = 0
    completed: int = 0
    on_time: int = 0

    def add(self, state: OccurrenceStatus, window_closed: bool) -> None:
        if not window_closed and state not in COMPLETED:
            return
        self.due += 1
        self.completed += state in COMPLETED
        self.on_time += state is OccurrenceStatus.DONE

    def measures(self) -> dict[str, Any]:
        return {
            "plan_completion_rate": round(self.completed / self.due, 4) if self.due else None,
            "plan_on_time_rate": round(self.on_time / self.due, 4) if self.due else None,
            "plan_due": self.due,
            "plan_completed": self.completed,
            "plan_on_time": self.on_time,
        }


def parse_month(text: str | None, today: date) -> date:
    if text is None:
        return today.replace(day=1)
    if not re.fullmatch(r"\d{4}-\d{2}", text) or not 1 <= int(text[5:]) <= 12:
        raise CliError(f"月份格式应为 YYYY-MM: {text} (month must be YYYY-MM)")
    return date(int(text[:4]), int(text[5:]), 1)


async def plan_measures(
    tx: Tx, first: date, now: datetime, site_ids: Collection[int] | None = None
) -> dict[str, Any]:
    """The plan measures of the month beginning `first`, per site, region and inspector."""
    last = next_period(first, MONTH)
    occurrences = [
        o
        for o in await tx.occurrences.in_periods(first, last, site_ids=site_ids)
        if o.period_start < last
    ]
    plans = {p.id: p for p in await tx.plans.all(include_removed=True)}
    sites = {s.id: s for s in await tx.sites.all(include_inactive=True)}
    regions = {r.id: r for r in await tx.regions.all()}
    per_site: dict[int, Tally] = defaultdict(Tally)
    per_region: dict[int, Tally] = defaultdict(Tally)
    per_inspector: dict[int, Tally] = defaultdict(Tally)
    company = Tally()
    for occurrence in occurrences:
        _, state = await occurrence_status(tx, occurrence, now)
        closed = occurrence.window_end <= now
        site = sites.get(occurrence.site_id)
        tallies = [per_site[occurrence.site_id], company]
        if site is not None and site.region_id is not None:
            tallies.append(per_region[site.region_id])
        plan = plans.get(occurrence.plan_id)
        tallies += [per_inspector[i] for i in (plan.inspector_ids if plan else ())]
        for tally in tallies:
            tally.add(state, closed)
    people = {p.id: p for p in await tx.people.get_many(per_inspector)}
    return {
        "sites": [
            {"id": site_id, "name": sites[site_id].name, **tally.measures()}
            for site_id, tally in sorted(per_site.items(), key=lambda kv: sites[kv[0]].name)
            if site_id in sites
        ],
        "regions": [
            {"id": region_id, "name": regions[region_id].name, **tally.measures()}
            for region_id, tally in sorted(per_region.items())
            if region_id in regions
        ],
        "inspectors": [
            {"id": person_id, "name": people[person_id].name, **tally.measures()}
            for person_id, tally in sorted(per_inspector.items())
            if person_id in people
        ],
        "company": company.measures(),
    }


async def flagged_fix_photos(
    tx: Tx, first: date, now: datetime, zone: ZoneInfo, site_ids: Collection[int] | None = None
) -> list[dict[str, Any]]:
    """Per 责任人 of the task: how many of the month's fix photos (the month in `zone`) raise
    a flag."""
    start = datetime(first.year, first.month, first.day, tzinfo=zone)
    last = next_period(first, MONTH)
    end = datetime(last.year, last.month, last.day, tzinfo=zone)
    received = await tx.evidence.fixes_between(start, end)
    tasks = await tx.tasks.get_many({e.task_id for e in received if e.task_id is not None})
    sites = {s.id: s for s in await tx.sites.all(include_inactive=True)}
    counts: dict[int, int] = defaultdict(int)
    for task in tasks.values():
        if task.responsible_person_id is None or task.site_id not in sites:
            continue
        if site_ids is not None and task.site_id not in site_ids:
            continue
        site = sites[task.site_id]
        values = await company_settings.for_site(tx.settings, site)
        mine = [e for e in received if e.task_id == task.id]
        flagged = {
            e.id for e in photo_time.fixes_taken_before(mine, task.created_at, site.timezone)
        }
        pairs = await photo_reuse.reused(
            tx, task, max_distance=values.reuse_max_distance, days=values.reuse_days, now=now
        )
        flagged |= {photo.id for photo, _ in pairs if photo in mine}
        far = photo_place.far_from_site(mine, site, values.photo_max_distance_m)
        flagged |= {photo.id for photo, _ in far}
        counts[task.responsible_person_id] += len(flagged)
    people = {p.id: p for p in await tx.people.get_many(counts)}
    return [
        {"id": person_id, "name": people[person_id].name, "flagged_fix_photos": count}
        for person_id, count in sorted(counts.items())
        if person_id in people
    ]


def _merge(
    rows: list[dict[str, Any]], extra: list[dict[str, Any]], name_key: str, blank: dict[str, Any]
) -> None:
    """Put each extra row's measures into the KPI row of the same id; one with no KPI row is
    added, named, with `blank` KPI measures."""
    by_id = {row["id"]: row for row in rows}
    for more in extra:
        measures = {k: v for k, v in more.items() if k not in ("id", "name")}
        row = by_id.get(more["id"])
        if row is None:
            rows.append({"id": more["id"], name_key: more["name"], **blank, **measures})
        else:
            row.update(measures)


async def _scope(tx: Tx, site: str | None, region: str | None) -> set[int] | None:
    if site is not None:
        found = await tx.sites.by_name(site)
        if found is None:
            raise CliError(f"没有这个项目: {site} (unknown site)")
        return {found.id}
    if region is not None:
        area = await tx.regions.by_name(region)
        if area is None:
            raise CliError(f"没有这个区域: {region} (unknown region)")
        return {s.id for s in await tx.sites.in_region(area.id)}
    return None


async def kpi_report(
    tx: Tx, period: Period, now: datetime, zone: ZoneInfo, site_ids: set[int] | None
) -> dict[str, Any]:
    """The KPIs with the plan measures and flagged fix photos merged into their rows."""
    result = await month_kpis(tx, period, now, site_ids=site_ids)
    plans = await plan_measures(tx, period.first, now, site_ids)
    nothing = {"inspections": 0, "score_rate": None, **TaskTally().measures()}
    _merge(result["sites"], plans["sites"], "site", nothing)
    _merge(result["regions"], plans["regions"], "region", nothing)
    _merge(result["inspectors"], plans["inspectors"], "person", {"inspections": 0, "findings": 0})
    for row in result["responsible"]:
        row["flagged_fix_photos"] = 0
    flagged = await flagged_fix_photos(tx, period.first, now, zone, site_ids)
    _merge(result["responsible"], flagged, "person", TaskTally().measures())
    result["company"] |= plans["company"]
    return result


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _kpi(args: argparse.Namespace) -> int:
    async def work(db: Database, settings: Settings) -> dict[str, Any]:
        now = utc_now()
        zone = ZoneInfo(settings.timezone)
        first = parse_month(args.month, now.astimezone(zone).date())
        async with db.read() as tx:
            site_ids = await _scope(tx, args.site, args.region)
            return await kpi_report(tx, Period.month(first), now, zone, site_ids)

    result = run_with_db(work)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(f"{result['month']}\t得分率\t整改完成率\t整改及时率\t逾期未整改\t检查完成率")
    for scope, title, key in (
        ("regions", "区域", "region"),
        ("sites", "项目", "site"),
        ("responsible", "责任人", "person"),
    ):
        for row in result[scope]:
            print(
                f"{title} {row[key]}\t{_percent(row.get('score_rate'))}"
                f"\t{_percent(row['completion_rate'])}\t{_percent(row['timely_rate'])}"
                f"\t{row['overdue_open']}\t{_percent(row.get('plan_completion_rate'))}"
            )
    for row in result["inspectors"]:
        print(f"检查员 {row['person']}\t检查 {row['inspections']}\t发现 {row['findings']}")
    for row in result["items"][:10]:
        print(f"失分项 {row['standard']} {row['no']}\t{row['content']}\t{row['findings']} 次")
    company = result["company"]
    print(
        f"合计\t{_percent(company['score_rate'])}\t{_percent(company['completion_rate'])}"
        f"\t{_percent(company['timely_rate'])}\t{company['overdue_open']}"
        f"\t{_percent(company['plan_completion_rate'])}"
    )
    return 0
