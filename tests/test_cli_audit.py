"""`pinjian audit`: the audit log, newest first, filtered by date and person, as a table or
JSON; bad filters are one line, exit 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.cli import main
from storage.db import Tx
from storage.tables import audit_log
from tests.cliquery import query


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PINJIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PINJIAN_TIMEZONE", "Asia/Shanghai")
    monkeypatch.delenv("PINJIAN_TELEGRAM_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0
    assert main(["site", "add", "阳光花园"]) == 0
    assert main(["person", "add", "王检查", "--site", "阳光花园", "--role", "inspector"]) == 0
    assert main(["person", "add", "张三", "--site", "阳光花园", "--role", "responsible"]) == 0
    assert main(["settings", "set", "reminders.at", "08:30", "--site", "阳光花园"]) == 0
    assert main(["invite", "create", "张三", "--channel", "web"]) == 0
    return tmp_path / "data"


def backdate(data_dir: Path, action: str, at: datetime) -> None:
    async def write(tx: Tx) -> None:
        await tx.connection.execute(
            sa.update(audit_log).where(audit_log.c.action == action).values(at=at)
        )

    query(data_dir, write, write=True)


def test_audit_lists_the_log_newest_first_one_line_each(
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    assert main(["audit"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "时间\t操作者\t操作\t对象\t详情"
    rows = [line.split("\t") for line in lines[1:]]
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("命令行", "网页登录链接", "人员 张三"),
        ("命令行", "修改设置", "项目 阳光花园"),
        ("命令行", "新增人员", "人员 张三"),
        ("命令行", "新增人员", "人员 王检查"),
        ("命令行", "新建项目", "项目 阳光花园"),
    ]
    assert json.loads(rows[1][4]) == {"key": "reminders.at", "from": "09:00", "to": "08:30"}
    assert all(len(r) == 5 and len(r[0]) == len("2026-12-06 09:00:00") for r in rows)


def test_audit_since_a_date_and_about_a_person(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backdate(data_dir, "site.add", datetime(2026, 1, 1, 15, 59, tzinfo=UTC))
    backdate(data_dir, "person.add", datetime(2026, 1, 1, 16, 0, tzinfo=UTC))
    capsys.readouterr()
    assert main(["audit", "--since", "2026-01-02", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["action"] for e in entries] == [
        "web.link",
        "settings.set",
        "person.add",
        "person.add",
    ]
    assert entries[-1]["at"] == "2026-01-01T16:00:00+00:00"
    assert entries[-1]["target_name"] == "人员 王检查"
    assert entries[0]["actor"] == "cli" and entries[0]["actor_name"] == "命令行"

    assert main(["audit", "--person", "张三", "--json"]) == 0
    about = json.loads(capsys.readouterr().out)
    assert [e["action"] for e in about] == ["web.link", "person.add"]
    assert {e["target_name"] for e in about} == {"人员 张三"}
    assert main(["audit", "--person", "张三", "--since", "2099-01-01"]) == 0
    assert "没有符合条件的记录" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--since", "2026-13-01"], "看不懂日期 2026-13-01"),
        (["--since", "yesterday"], "看不懂日期 yesterday"),
        (["--person", "没有这人"], "没有名为 没有这人 的人员"),
        (["--limit", "0"], "--limit 至少为 1"),
    ],
)
def test_audit_refuses_bad_filters(
    capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    capsys.readouterr()
    assert main(["audit", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"pinjian: {error}") and err.count("\n") == 1
