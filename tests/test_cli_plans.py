"""Inspection plans from the CLI, against a real SQLite file. Every refusal is one line, exit
status 2, and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from storage import Tx
from tests.cliquery import query
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


WEEKLY = ["plan", "add", "--site", "阳光花园", "--standard", "community-culture"]


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
