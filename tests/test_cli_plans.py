"""Inspection plans from the CLI, against a real SQLite file. Every refusal is one line, exit
status 2, and changes nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from storage.db import Database, Tx
from storage.records import EvidenceKind, EvidenceRole
from tests.cliquery import query
from tests.core.test_photo_gps import SITE, offset
from tests.storage.helpers import snapshot
from tests.test_cli_structure import refused


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PINJIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PINJIAN_TELEGRAM_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0
    assert main(["region", "add", "华东"]) == 0
    assert main(["site", "add", "阳光花园", "--region", "华东"]) == 0
    assert main(["site", "add", "翠湖苑", "--region", "华东"]) == 0
    assert main(["person", "add", "王检查", "--site", "阳光花园", "--role", "inspector"]) == 0
    assert main(["person", "add", "钱品质", "--site", "翠湖苑", "--role", "inspector"]) == 0
    args = ["person", "role", "add", "钱品质", "--role", "inspector", "--site", "阳光花园"]
    assert main(args) == 0
    assert main(["person", "add", "张三", "--site", "阳光花园", "--role", "responsible"]) == 0
    return tmp_path / "data"


def plans_json(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main(["plan", "list", "--json"]) == 0
    rows: list[dict[str, object]] = json.loads(capsys.readouterr().out)["plans"]
    return rows


STD = "community-culture"
WEEKLY = ["plan", "add", "--site", "阳光花园", "--standard", STD]


def test_add_list_remove(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*WEEKLY, "--every", "week", "--to", "5", "--inspector", "王检查"]) == 0
    assert "已新建检查计划 #1 阳光花园\t周检（1–5 日）\t自检" in capsys.readouterr().out
    cross = ["plan", "add", "--region", "华东", "--standard", "community-culture"]
    cross += ["--every", "month", "--from", "20", "--to", "28", "--kind", "cross"]
    assert main([*cross, "--inspector", "钱品质"]) == 0
    rows = plans_json(capsys)
    assert [(r["id"], r["site"], r["region"], r["every"], r["from"], r["to"]) for r in rows] == [
        (1, "阳光花园", None, "week", 1, 5),
        (2, None, "华东", "month", 20, 28),
    ]
    assert rows[1]["kind"] == "cross" and rows[1]["inspectors"] == ["钱品质"]
    assert main(["plan", "list"]) == 0
    assert "#2\t华东区域各项目\t月检（20–28 日）\t交叉检查" in capsys.readouterr().out
    assert main(["plan", "remove", "1"]) == 0
    assert "已停止检查计划 #1" in capsys.readouterr().out
    assert [r["id"] for r in plans_json(capsys)] == [2]

    async def audit(tx: Tx) -> list[str]:
        return [e.action for e in await tx.audit.recent(limit=10) if e.action.startswith("plan")]

    assert sorted(query(data_dir, audit)) == ["plan.add", "plan.add", "plan.remove"]


def test_refusals_change_nothing(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    week = ["--every", "week"]
    refused(capsys, [*WEEKLY[:3], "不存在", *WEEKLY[4:], *week, "--inspector", "王检查"], "不存在")
    refused(capsys, [*WEEKLY, *week, "--inspector", "张三"], "张三 在 阳光花园 没有检查员角色")
    region = ["plan", "add", "--region", "华东", "--standard", "community-culture", *week]
    refused(capsys, [*region, "--inspector", "王检查"], "王检查 在 翠湖苑 没有检查员角色")
    refused(
        capsys, [*WEEKLY, *week, "--from", "5", "--to", "2", "--inspector", "王检查"], "窗口为空"
    )
    refused(capsys, [*WEEKLY, *week, "--to", "9", "--inspector", "王检查"], "1–7")
    refused(capsys, [*WEEKLY[:5], "nope", *week, "--inspector", "王检查"], "unknown standard")
    refused(capsys, [*WEEKLY, *week, "--inspector", "无名"], "无名")
    refused(capsys, ["plan", "remove", "7"], "#7")
    assert plans_json(capsys) == []


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Asia/Shanghai"))


async def october(data_dir: Path) -> None:
    """Plan 1 (weekly, 阳光花园, 王检查): done in its window, done late, missed, and one
    ended by the plan's removal; plan 2 (monthly, 华东, 钱品质): done at 翠湖苑."""
    moment = [at("2026-10-01T09:00")]
    db = Database(
        f"sqlite+aiosqlite:///{(data_dir / 'pinjian.db').resolve()}", clock=lambda: moment[0]
    )
    await db.open()
    try:
        async with db.transaction() as tx:
            sites = {s.name: s.id for s in await tx.sites.all()}
            people = {p.name: p.id for p in await tx.people.all()}
            std = await tx.standards.ensure(STD, "1", "社区文化管理", "h1", snapshot())
            done = [
                (1, sites["阳光花园"], "2026-10-05", "2026-10-09", "王检查", "2026-10-08T10:00"),
                (1, sites["阳光花园"], "2026-10-12", "2026-10-16", "王检查", "2026-10-20T10:00"),
                (1, sites["阳光花园"], "2026-10-19", "2026-10-23", None, None),
                (1, sites["阳光花园"], "2026-10-26", "2026-10-30", None, None),
                (2, sites["翠湖苑"], "2026-10-01", "2026-10-28", "钱品质", "2026-10-21T10:00"),
            ]
            for plan_id, site_id, first, last, who, finished in done:
                start, end = at(f"{first}T00:00"), at(f"{last}T00:00") + timedelta(days=1)
                await tx.occurrences.ensure(plan_id, site_id, start.date(), start, end)
                [occurrence] = [
                    o
                    for o in await tx.occurrences.in_periods(start.date(), start.date())
                    if o.plan_id == plan_id
                ]
                if who is not None and finished is not None:
                    inspection = await tx.inspections.start(site_id, std.id, people[who])
                    await tx.occurrences.take_up(occurrence.id, inspection.id)
                    moment[0] = at(finished)
                    await tx.inspections.complete(inspection.id, score=1, max_score=1)
        moment[0] = at("2026-10-28T10:00")
        async with db.transaction() as tx:
            await tx.plans.remove(1)
    finally:
        await db.close()


def test_kpi_plan_rates_per_site_region_and_inspector(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*WEEKLY, "--every", "week", "--to", "5", "--inspector", "王检查"]) == 0
    cross = ["plan", "add", "--region", "华东", "--standard", STD, "--every", "month"]
    assert main([*cross, "--to", "28", "--kind", "cross", "--inspector", "钱品质"]) == 0
    asyncio.run(october(data_dir))
    capsys.readouterr()
    assert main(["kpi", "--month", "2026-10", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["month"] == "2026-10"
    rates = {
        (scope, row[key]): (
            row["plan_completion_rate"],
            row["plan_on_time_rate"],
            row["plan_due"],
        )
        for scope, key in (("sites", "site"), ("regions", "region"), ("inspectors", "person"))
        for row in result[scope]
    }
    assert rates == {
        ("sites", "阳光花园"): (0.6667, 0.3333, 3),
        ("sites", "翠湖苑"): (1.0, 1.0, 1),
        ("regions", "华东"): (0.75, 0.5, 4),
        ("inspectors", "王检查"): (0.6667, 0.3333, 3),
        ("inspectors", "钱品质"): (1.0, 1.0, 1),
    }
    assert main(["kpi", "--month", "2026-10"]) == 0
    assert "区域 华东\t100.0%\t—\t—\t0\t75.0%" in capsys.readouterr().out
    assert main(["kpi", "--month", "2026-09", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["company"]["plan_completion_rate"] is None
    refused(capsys, ["kpi", "--month", "2026-13"], "YYYY-MM")
    assert main(["kpi", "--month", "2026-10", "--site", "翠湖苑", "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert set(one) == {
        "month",
        "sites",
        "regions",
        "responsible",
        "inspectors",
        "items",
        "company",
    }
    assert [(r["site"], r["region"], r["plan_due"]) for r in one["sites"]] == [
        ("翠湖苑", "华东", 1)
    ]
    assert [r["person"] for r in one["inspectors"]] == ["钱品质"]
    assert main(["kpi", "--month", "2026-10", "--region", "华东", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["sites"]) == 2
    refused(capsys, ["kpi", "--site", "无此项目"], "没有这个项目")


async def flagged_photos(data_dir: Path) -> None:
    """张三's task gets five fix photos in October: one taken (EXIF) before the task, one the
    finding photo re-sent (same perceptual hash), one taken 5 km from the site, two in order
    (one of them 200 m from the site)."""
    db = Database(
        f"sqlite+aiosqlite:///{(data_dir / 'pinjian.db').resolve()}",
        clock=lambda: at("2026-10-10T09:00"),
    )
    await db.open()
    try:
        async with db.transaction() as tx:
            sites = {s.name: s.id for s in await tx.sites.all()}
            people = {p.name: p.id for p in await tx.people.all()}
            std = await tx.standards.ensure(STD, "1", "社区文化管理", "h1", snapshot())
            inspection = await tx.inspections.start(sites["阳光花园"], std.id, people["王检查"])
            task = await tx.tasks.create(
                sites["阳光花园"],
                "方案缺失",
                created_by=people["王检查"],
                due_date=None,
                responsible_person_id=people["张三"],
                inspection_id=inspection.id,
                item_no=1,
            )
            photo: dict[str, Any] = {"mime": "image/jpeg", "kind": EvidenceKind.PHOTO}
            await tx.evidence.add(
                "a" * 64,
                1,
                **photo,
                created_by=people["王检查"],
                inspection_id=inspection.id,
                item_no=1,
                phash="ffff0000ffff0000",
            )
            fix: dict[str, Any] = {**photo, "role": EvidenceRole.FIX, "task_id": task.id}
            await tx.evidence.add(
                "b" * 64, 1, **fix, created_by=people["张三"], taken_at=datetime(2026, 9, 1, 8)
            )
            await tx.evidence.add(
                "c" * 64, 1, **fix, created_by=people["张三"], phash="ffff0000ffff0001"
            )
            await tx.evidence.add(
                "d" * 64,
                1,
                **fix,
                created_by=people["张三"],
                phash="0f0f0f0f0f0f0f0f",
                taken_at=datetime(2026, 10, 10, 10),
            )
            await tx.sites.set_position(sites["阳光花园"], SITE)
            await tx.evidence.add(
                "e" * 64, 1, **fix, created_by=people["张三"], position=offset(5000)
            )
            await tx.evidence.add(
                "f" * 64, 1, **fix, created_by=people["张三"], position=offset(200)
            )
    finally:
        await db.close()


def test_kpi_counts_flagged_fix_photos_per_responsible(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(flagged_photos(data_dir))
    capsys.readouterr()
    assert main(["kpi", "--month", "2026-10", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["responsible"]
    assert [(r["person"], r["flagged_fix_photos"], r["tasks"]) for r in rows] == [("张三", 3, 0)]
    assert main(["kpi", "--month", "2026-11", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["responsible"] == []
