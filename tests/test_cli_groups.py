"""`pinjian group`: binding a WeCom group robot (the key a secret, never printed), one-use
codes for Telegram groups, removing and listing; against a real SQLite file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.cli import main
from storage.db import Tx
from storage.records import ChatGroup, GroupKind
from tests.cliquery import query

KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
URL = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PINJIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PINJIAN_TELEGRAM_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0
    assert main(["site", "add", "阳光花园"]) == 0
    assert main(["region", "add", "华东"]) == 0
    return tmp_path / "data"


def groups(data_dir: Path) -> list[ChatGroup]:
    async def work(tx: Tx) -> list[ChatGroup]:
        return await tx.groups.all(include_removed=True)

    result: list[ChatGroup] = query(data_dir, work)
    return result


def refused(capsys: pytest.CaptureFixture[str], argv: list[str], *expected: str) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    captured = capsys.readouterr()
    for text in expected:
        assert text in captured.err
    assert "Traceback" not in captured.err


def test_a_wecom_robot_is_stored_and_never_printed(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["group", "add", "阳光花园", "--wecom-webhook", URL]) == 0
    out = capsys.readouterr().out
    assert "已为项目 阳光花园绑定企业微信群机器人" in out and KEY not in out
    (group,) = groups(data_dir)
    assert (group.kind, group.webhook_key, group.site_id, group.active) == (
        GroupKind.WECOM,
        KEY,
        1,
        True,
    )
    assert KEY not in repr(group)
    assert main(["group", "list"]) == 0
    listed = capsys.readouterr().out
    assert "项目 阳光花园  企业微信群机器人  key …5aaa  有效" in listed and KEY not in listed
    assert main(["group", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["groups"]
    assert row["webhook"] == "…5aaa" and row["site"] == "阳光花园" and KEY not in json.dumps(row)

    async def audit(tx: Tx) -> str:
        return repr(await tx.audit.recent(limit=10))

    assert KEY not in query(data_dir, audit)


def test_one_robot_per_site_the_new_one_replaces_it(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["group", "add", "1", "--wecom-webhook", KEY]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("second-key-from-stdin\n"))
    assert main(["group", "add", "阳光花园", "--wecom-webhook", "-"]) == 0
    first, second = groups(data_dir)
    assert first.removed_at is not None and not first.active
    assert second.webhook_key == "second-key-from-stdin" and second.active


def test_a_region_has_its_own_group(data_dir: Path) -> None:
    assert main(["group", "add", "华东", "--region", "--wecom-webhook", KEY]) == 0
    (group,) = groups(data_dir)
    assert (group.site_id, group.region_id) == (None, 1)


def test_bad_input_is_refused_and_changes_nothing(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refused(capsys, ["group", "add", "阳光花园", "--wecom-webhook", "https://x/?y=1"], "不是")
    refused(capsys, ["group", "add", "无此项目", "--wecom-webhook", KEY], "没有这个项目")
    refused(capsys, ["group", "remove", "阳光花园", "--wecom"], "没有绑定企业微信群机器人")
    refused(capsys, ["group", "remove", "阳光花园"])  # --telegram or --wecom
    assert groups(data_dir) == []


def test_invite_prints_a_one_use_code_and_the_line_to_send(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["group", "invite", "阳光花园"]) == 0
    out = capsys.readouterr().out.splitlines()
    code = out[0].rsplit("：", 1)[1]
    assert out[-1] == f"/bind {code}"

    async def redeem(tx: Tx) -> tuple[int | None, bool]:
        first = await tx.groups.redeem_code(code)
        return (first.site_id if first else None), await tx.groups.redeem_code(code) is None

    assert query(data_dir, redeem, write=True) == (1, True)


def test_remove_unbinds_the_group(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def telegram(tx: Tx) -> None:
        await tx.groups.add(GroupKind.TELEGRAM, site_id=1, chat_id="-100123", title="项目群")

    query(data_dir, telegram, write=True)
    assert main(["group", "remove", "阳光花园", "--telegram"]) == 0
    assert "已解除项目 阳光花园的Telegram 群绑定" in capsys.readouterr().out
    (group,) = groups(data_dir)
    assert group.removed_at is not None and not group.active
    assert main(["group", "list"]) == 0
    assert "还没有绑定项目群" in capsys.readouterr().out
