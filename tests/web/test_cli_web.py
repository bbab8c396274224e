"""`pinjian demo`, `pinjian invite create … --channel web` and `pinjian web revoke`."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.cli import main
from bot.core.kpi import Period
from storage.db import Tx
from storage.people import web_external_id
from storage.records import Channel, Role
from tests.cliquery import query

LINK = re.compile(r"http://127\.0\.0\.1:18080/chat#t=([A-Za-z0-9_-]{43})")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PINJIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PINJIAN_HTTP_HOST", "0.0.0.0")
    monkeypatch.setenv("PINJIAN_HTTP_PORT", "18080")
    monkeypatch.delenv("PINJIAN_TELEGRAM_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0
    return tmp_path / "data"


def signed_in_as(data_dir: Path, token: str) -> str | None:
    async def work(tx: Tx) -> str | None:
        resolved = await tx.identities.resolve(Channel.WEB, web_external_id(token))
        return resolved[1].name if resolved else None

    result: str | None = query(data_dir, work)
    return result


def test_demo_seeds_once_and_prints_a_link_per_person(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "阳光花园" in out and "62 项" in out
    assert "华东区域：阳光花园、翠湖苑；华南区域：金色家园、碧水湾" in out
    assert "每个项目每周一次周检" in out
    lines = {line.split("：")[0].strip(): LINK.search(line) for line in out.splitlines()}
    links = {name: match.group(1) for name, match in lines.items() if match}
    assert list(links) == [
        "王检查（检查员）",
        "张三（责任人）",
        "李四（责任人）",
        "赵经理（经理）",
        "孙区域（经理，华东区域）",
        "钱品质（检查员，全公司·品质部）",
    ]
    for label, token in links.items():
        assert signed_in_as(data_dir, token) == label.split("（")[0]

    async def structure(tx: Tx) -> tuple[dict[str, list[str]], dict[str, set[str]]]:
        regions = {
            region.name: [site.name for site in await tx.sites.in_region(region.id)]
            for region in await tx.regions.all()
        }
        reach = {
            name: {
                site.name
                for role in Role
                for site in await tx.roles.sites_with_role(
                    (await tx.people.find_by_name(name))[0].id, role
                )
            }
            for name in ("孙区域", "钱品质")
        }
        return regions, reach

    regions, reach = query(data_dir, structure)
    assert {name: sorted(sites) for name, sites in regions.items()} == {
        "华东": sorted(["阳光花园", "翠湖苑"]),
        "华南": sorted(["金色家园", "碧水湾"]),
    }
    assert reach == {
        "孙区域": {"阳光花园", "翠湖苑"},
        "钱品质": {"阳光花园", "翠湖苑", "金色家园", "碧水湾"},
    }

    async def tokens_stored(tx: Tx) -> list[str]:
        rows = [i for p in await tx.people.all() for i in await tx.identities.for_person(p.id)]
        return [identity.external_id for identity in rows]

    assert not set(links.values()) & set(query(data_dir, tokens_stored)), "only hashes stored"

    assert main(["demo"]) == 0
    again = capsys.readouterr().out
    assert "已有数据" in again and "pinjian invite create 姓名 --channel web" in again
    assert not LINK.search(again)
    # The six with links, and a 责任人 of each other site who owns its demo tasks.
    assert len(query(data_dir, lambda tx: tx.people.all())) == 9

    async def plans(tx: Tx) -> list[tuple[str | None, str, str, tuple[str, ...]]]:
        names = {p.id: p.name for p in await tx.people.all()}
        sites = {s.id: s.name for s in await tx.sites.all()}
        return [
            (
                sites.get(plan.site_id or 0),
                plan.every.value,
                plan.kind.value,
                tuple(names[i] for i in plan.inspector_ids),
            )
            for plan in await tx.plans.all()
        ]

    assert sorted(query(data_dir, plans)) == [
        ("碧水湾", "week", "self", ("钱品质",)),
        ("翠湖苑", "month", "cross", ("王检查",)),
        ("翠湖苑", "week", "self", ("钱品质",)),
        ("金色家园", "week", "self", ("钱品质",)),
        ("阳光花园", "week", "self", ("王检查",)),
    ]
    assert signed_in_as(data_dir, links["王检查（检查员）"]) == "王检查", "old links keep working"


def test_web_link_replaces_the_old_one_and_can_be_revoked(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["site", "add", "翠湖苑"])
    main(["person", "add", "钱七", "--site", "翠湖苑", "--role", "inspector"])
    capsys.readouterr()
    assert main(["invite", "create", "钱七", "--channel", "web"]) == 0
    first = LINK.search(capsys.readouterr().out)
    assert first is not None and signed_in_as(data_dir, first.group(1)) == "钱七"
    assert main(["invite", "create", "1", "--channel", "web"]) == 0
    out = capsys.readouterr().out
    second = LINK.search(out)
    assert second is not None and "钱七（#1）" in out
    assert signed_in_as(data_dir, first.group(1)) is None
    assert signed_in_as(data_dir, second.group(1)) == "钱七"

    assert main(["web", "revoke", "钱七"]) == 0
    assert "已撤销" in capsys.readouterr().out
    assert signed_in_as(data_dir, second.group(1)) is None
    assert main(["web", "revoke", "钱七"]) == 2
    assert "没有有效的网页链接" in capsys.readouterr().err
    assert main(["web", "revoke", "无名氏"]) == 2

    async def audit(tx: Tx) -> list[str]:
        return [entry.action for entry in await tx.audit.recent()]

    actions = query(data_dir, audit)
    assert actions.count("web.link") == 2 and "web.revoke" in actions


def test_demo_history_makes_last_months_bulletin_meaningful(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo"]) == 0
    last = Period.month(datetime.now(ZoneInfo("Asia/Shanghai")).date()).previous()
    assert f"pinjian bulletin --month {last.label} --format pdf" in capsys.readouterr().out
    out = tmp_path / "last.xlsx"
    args = ["bulletin", "--month", last.label, "--format", "xlsx", "--out", str(out)]
    assert main(args) == 0
    book = load_workbook(out)
    lines = [[c for c in row if c is not None] for row in book["通报"].iter_rows(values_only=True)]
    ranking = [r for r in lines if r and r[0] in ("1", "2", "3", "4")]
    assert sorted(r[1] for r in ranking) == ["碧水湾", "翠湖苑", "金色家园", "阳光花园"]
    rates = [float(str(r[4]).rstrip("%")) for r in ranking]
    assert rates == sorted(rates, reverse=True) and len(set(rates)) == 4
    assert all(r[5] != "未检查" and "个百分点" in str(r[7]) for r in ranking), ranking
    statuses = {row[6] for row in book["不合格项汇总表"].iter_rows(min_row=2, values_only=True)}
    assert {"已完成", "待整改（逾期）"} <= statuses
    capsys.readouterr()
    assert main(["kpi", "--month", last.label, "--json"]) == 0
    company = json.loads(capsys.readouterr().out)["company"]
    assert company["tasks"] > 0 and company["completed_on_time"] > 0
    assert 0 < company["timely_rate"] < company["completion_rate"] < 1
