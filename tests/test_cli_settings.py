"""`pinjian settings show|set|reset` against a real SQLite file: values, sources, refusals
(exit 2, nothing changed) and the audit entry of every change."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from bot import app
from bot.cli import main
from bot.config import Settings
from storage.db import Tx
from tests.cliquery import query


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PINJIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PINJIAN_TIMEZONE", "Asia/Shanghai")
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0
    assert main(["site", "add", "阳光花园"]) == 0
    assert main(["site", "add", "月亮湾", "--quiet-hours", "22:00-06:00"]) == 0
    return tmp_path / "data"


def shown(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, dict[str, Any]]:
    capsys.readouterr()
    assert main(["settings", "show", *args, "--json"]) == 0
    return {row["key"]: row for row in json.loads(capsys.readouterr().out)["settings"]}


def stored(data_dir: Path) -> Any:
    async def read(tx: Tx) -> Any:
        sites = {s.name: s for s in await tx.sites.all()}
        return await tx.settings.all(), sites, await tx.audit.recent(action=None)

    return query(data_dir, read)


def test_show_lists_every_setting_with_its_value_source_and_description(
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    assert main(["settings", "show"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "公司设置"
    assert out[1] == "设置项\t值\t来源\t说明"
    assert 'reminders.at\t"09:00"\t默认\t每天发提醒的时间（项目当地时间）' in out
    assert any(
        line.startswith('grade_bands\t[[90, "优秀"], [80, "良好"], [70, "合格"]]\t默认\t评级')
        for line in out
    )
    rows = shown(capsys)
    assert rows["reminders.ladder"]["value"] == [[1, "site"], [3, "region"], [7, "company"]]
    assert len(rows) == 30
    assert rows["group_posts.overdue_daily"]["value"] is True
    assert rows["group_posts.overdue_daily"]["per_site"] is True
    assert rows["group_posts.region_escalations"]["per_site"] is False
    assert rows["severity_names"]["value"] == ["观察项", "一般不合格", "严重不合格"]
    assert rows["photo_required"] == {
        "key": "photo_required",
        "value": False,
        "source": "default",
        "description": "创建整改任务前必须拍照",
        "allowed": "true 或 false",
        "per_site": False,
    }
    site = shown(capsys, "--site", "月亮湾")
    assert site["quiet_hours"]["value"] == ["22:00", "06:00"]
    assert site["quiet_hours"]["source"] == "site"
    assert shown(capsys, "--site", "阳光花园")["quiet_hours"]["source"] == "default"


def test_set_and_reset_at_the_company_and_at_a_site(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["settings", "set", "grade_bands", '[[95, "优秀"], [85, "良好"]]']) == 0
    assert "已设置公司的 grade_bands" in capsys.readouterr().out
    assert main(["settings", "set", "reminders.at", "08:30"]) == 0
    assert main(["settings", "set", "reminders.at", "07:45", "--site", "阳光花园"]) == 0
    assert main(["settings", "set", "manager_summaries", "final", "--site", "阳光花园"]) == 0
    assert main(["settings", "set", "timezone", "Asia/Urumqi", "--site", "月亮湾"]) == 0
    company, sites, _ = stored(data_dir)
    assert company == {
        "grade_bands": [[95, "优秀"], [85, "良好"]],
        "reminders": {"at": "08:30"},
    }
    assert sites["阳光花园"].settings == {
        "reminders": {"at": "07:45"},
        "manager_summaries": "final",
    }
    assert sites["月亮湾"].timezone == "Asia/Urumqi"
    rows = shown(capsys, "--site", "阳光花园")
    assert (rows["reminders.at"]["value"], rows["reminders.at"]["source"]) == ("07:45", "site")
    assert rows["grade_bands"]["source"] == "company"
    moon = shown(capsys, "--site", "月亮湾")
    assert (moon["reminders.at"]["value"], moon["reminders.at"]["source"]) == ("08:30", "company")

    assert main(["settings", "reset", "reminders.at", "--site", "阳光花园"]) == 0
    assert main(["settings", "reset", "manager_summaries", "--site", "阳光花园"]) == 0
    assert main(["settings", "reset", "grade_bands"]) == 0
    assert main(["settings", "reset", "timezone", "--site", "月亮湾"]) == 0
    company, sites, _ = stored(data_dir)
    assert company == {"reminders": {"at": "08:30"}}
    assert sites["阳光花园"].settings == {}
    assert sites["月亮湾"].timezone == "Asia/Shanghai"
    assert main(["settings", "reset", "reminders.at"]) == 0
    assert stored(data_dir)[0] == {}


def test_company_quiet_hours_move_the_sites_without_their_own(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["settings", "set", "quiet_hours", "20:00-07:00"]) == 0
    assert "1 个未单独设置的项目随公司一起改为" in capsys.readouterr().out
    _, sites, _ = stored(data_dir)
    assert (sites["阳光花园"].quiet_start, sites["阳光花园"].quiet_end) == ("20:00", "07:00")
    assert (sites["月亮湾"].quiet_start, sites["月亮湾"].quiet_end) == ("22:00", "06:00")
    assert shown(capsys, "--site", "阳光花园")["quiet_hours"]["source"] == "company"
    assert main(["settings", "reset", "quiet_hours", "--site", "月亮湾"]) == 0
    _, sites, _ = stored(data_dir)
    assert (sites["月亮湾"].quiet_start, sites["月亮湾"].quiet_end) == ("20:00", "07:00")
    assert main(["settings", "reset", "quiet_hours"]) == 0
    _, sites, _ = stored(data_dir)
    assert {(s.quiet_start, s.quiet_end) for s in sites.values()} == {("21:00", "08:00")}


def test_every_change_goes_to_the_audit_log(data_dir: Path) -> None:
    assert main(["settings", "set", "photo_required", "true"]) == 0
    assert main(["settings", "set", "inspector_self_assign", "true", "--site", "月亮湾"]) == 0
    assert main(["settings", "reset", "photo_required"]) == 0
    _, sites, audit = stored(data_dir)
    changes = [(e.action, e.target, e.details) for e in audit if e.action.startswith("settings")]
    assert changes == [
        ("settings.reset", "company", {"key": "photo_required", "from": True, "to": False}),
        (
            "settings.set",
            f"site:{sites['月亮湾'].id}",
            {"key": "inspector_self_assign", "from": False, "to": True},
        ),
        ("settings.set", "company", {"key": "photo_required", "from": False, "to": True}),
    ]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["reminders.at", "25:00"],
            'reminders.at：不能设为 "25:00"；允许：24 小时制时间，如 09:00',
        ),
        (
            ["grade_bands", '[[90, "A"], [90, "B"]]'],
            'grade_bands：不能设为 [[90, "A"], [90, "B"]]；允许：',
        ),
        (["due_choices", "[]"], "due_choices：不能设为 []；允许：1–365 的天数列表"),
        (["photo_required", "maybe"], 'photo_required：不能设为 "maybe"；允许：true 或 false'),
        (
            ["digest_day", "monday"],
            'digest_day：不能设为 "monday"；允许：mon tue wed thu fri sat sun 之一',
        ),
        (
            ["reminders.ladder", '[[3, "site"], [1, "region"]]'],
            'reminders.ladder：不能设为 [[3, "site"], [1, "region"]]；'
            '允许：[[逾期天数, "级别"], …]，级别为 site（项目）、region（区域）、'
            "company（公司），可写中文；1–3 级，天数 1–365 且递增，级别由低到高",
        ),
        (
            ["reminders.ladder", '[[1, "区域"], [3, "项目"]]', "--site", "阳光花园"],
            'reminders.ladder：不能设为 [[1, "区域"], [3, "项目"]]；允许：',
        ),
        (["reminders.ladder", "7"], "reminders.ladder：不能设为 7；允许："),
        (["colour", "red"], "没有设置项 colour；可用：grade_bands、"),
        (
            ["grade_bands", '[[90, "A"]]', "--site", "阳光花园"],
            "grade_bands：不能按项目设置，全公司统一",
        ),
        (["photo_required", "true", "--site", "阳光花园"], "photo_required：不能按项目设置"),
        (["timezone", "Asia/Urumqi"], "timezone：只能按项目设置（--site 项目）"),
        (["timezone", "Mars/Olympus", "--site", "阳光花园"], 'timezone：不能设为 "Mars/Olympus"'),
        (["reminders.at", "08:00", "--site", "不存在"], "没有这个项目 unknown site: 不存在"),
    ],
)
def test_a_refused_value_is_one_line_exit_2_and_nothing_changed(
    data_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    before = stored(data_dir)
    capsys.readouterr()
    assert main(["settings", "set", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"pinjian: {error}") and err.count("\n") == 1, err
    assert stored(data_dir) == before


def test_reset_refuses_unknown_keys_and_company_wide_keys_per_site(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stored(data_dir)
    capsys.readouterr()
    assert main(["settings", "reset", "colour"]) == 2
    assert "没有设置项 colour" in capsys.readouterr().err
    assert main(["settings", "reset", "due_choices", "--site", "阳光花园"]) == 2
    assert "due_choices：不能按项目设置" in capsys.readouterr().err
    assert main(["settings", "show", "--site", "不存在"]) == 2
    assert "没有这个项目" in capsys.readouterr().err
    assert stored(data_dir) == before


async def test_the_bot_looks_for_the_digest_and_the_bulletin_every_minute(
    data_dir: Path,
) -> None:
    """They read digest_day/digest_time and bulletin_day/bulletin_time at every look
    (bot/core/schedule.py; tests/test_scheduled_sends.py)."""
    set_day = ["settings", "set", "digest_day", "fri"]
    assert await asyncio.to_thread(main, set_day) == 0
    assert await asyncio.to_thread(main, ["settings", "set", "digest_time", "17:30"]) == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Settings(_env_file=None, data_dir=data_dir, http_port=port, web_enabled=False)
    runtime = await app.start(config)
    try:
        assert runtime.scheduler is not None
        jobs = {job.id: str(job.trigger) for job in runtime.scheduler.scheduler.get_jobs()}
        assert jobs["weekly-digest"] == "interval[0:01:00]"
        assert jobs["monthly-bulletin"] == "interval[0:01:00]"
    finally:
        await app.stop(runtime)


def test_a_new_site_gets_the_company_quiet_hours_and_follows_them(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["settings", "set", "quiet_hours", "22:30-07:00"]) == 0
    assert main(["site", "add", "星河湾"]) == 0
    assert main(["site", "add", "翠湖苑", "--quiet-hours", "23:00-06:00"]) == 0
    _, sites, _ = stored(data_dir)
    assert (sites["星河湾"].quiet_start, sites["星河湾"].quiet_end) == ("22:30", "07:00")
    assert shown(capsys, "--site", "星河湾")["quiet_hours"]["source"] == "company"
    assert shown(capsys, "--site", "翠湖苑")["quiet_hours"]["source"] == "site"
    assert main(["settings", "set", "quiet_hours", "21:30-07:30"]) == 0
    _, sites, _ = stored(data_dir)
    assert (sites["星河湾"].quiet_start, sites["星河湾"].quiet_end) == ("21:30", "07:30")
    assert (sites["翠湖苑"].quiet_start, sites["翠湖苑"].quiet_end) == ("23:00", "06:00")
    sheet = data_dir.parent / "staff.csv"
    sheet.write_text("姓名,手机,项目,角色\n李四,13800000004,新月苑,responsible\n", "utf-8")
    assert main(["person", "import", str(sheet)]) == 0
    _, sites, _ = stored(data_dir)
    assert (sites["新月苑"].quiet_start, sites["新月苑"].quiet_end) == ("21:30", "07:30")


def test_the_ladder_is_set_with_chinese_level_names_and_stored_in_one_form(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ladder = '[[2, "项目"], [5, "公司"]]'
    assert main(["settings", "set", "reminders.ladder", ladder, "--site", "阳光花园"]) == 0
    _, sites, _ = stored(data_dir)
    assert sites["阳光花园"].settings == {"reminders": {"ladder": [[2, "site"], [5, "company"]]}}
    rows = shown(capsys, "--site", "阳光花园")
    assert rows["reminders.ladder"]["source"] == "site"
    assert rows["reminders.ladder"]["per_site"] is True
