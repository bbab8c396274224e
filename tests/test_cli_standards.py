"""The `pinjian standards` commands, including their error paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from standards.loader import BUILTIN_DIR

SEED = BUILTIN_DIR / "community-culture.yaml"


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINJIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)


def test_list_and_show_json_is_the_stable_interface(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["standards", "list"]) == 0
    assert "community-culture" in capsys.readouterr().out
    assert main(["standards", "show", "community-culture", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"id", "version", "title", "sections"}
    assert [len(s["items"]) for s in data["sections"]] == [23, 8, 20, 6, 5]
    item = data["sections"][0]["items"][2]
    expected = {
        "no",
        "content",
        "rule",
        "max_score",
        "levels",
        "method",
        "sample",
        "target",
        "note",
    }
    assert set(item) == expected
    assert item["levels"][0] == {"score": 1.0, "label": "有效执行并详细记录"}


def test_show_text_and_unknown_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["standards", "show", "community-culture"]) == 0
    assert "五、宠物管理" in capsys.readouterr().out
    assert main(["standards", "show", "no-such"]) == 2
    assert "没有编号为 no-such 的标准" in capsys.readouterr().err


def test_check_passes_the_seed_and_lists_each_problem_of_a_broken_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["standards", "check", str(SEED)]) == 0
    assert "校验通过" in capsys.readouterr().out
    data = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    items = data["sections"][0]["items"]
    items[0]["levels"] = items[0]["levels"][:2]
    items[1]["content"] = ""
    items[2]["no"] = 2
    data["sections"][1]["items"][0]["max_score"] = 2
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["standards", "check", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "第1项" in out and "0 分档" in out
    assert "第2项" in out and "content" in out
    assert "序号重复" in out
    assert "第24项" in out and "不等于分值" in out


def test_check_missing_file_and_bad_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["standards", "check", str(tmp_path / "none.yaml")]) == 1
    assert "文件不存在" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("sections: [\n", encoding="utf-8")
    assert main(["standards", "check", str(bad)]) == 1
    assert "YAML 格式错误" in capsys.readouterr().out


def test_import_writes_a_standard_the_catalog_then_lists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in [
        ("物业服务品质检查标准——保洁",),
        ("序号", "标准内容", "评分细则", "分值"),
        ("一、公共区域",),
        (1, "大堂地面干净无污渍", "现场检查,符合1分,部分符合0.5分,不符合0分", 1),
    ]:
        sheet.append(list(row))
    path = tmp_path / "clean.xlsx"
    workbook.save(path)
    assert main(["standards", "import", str(path), "--id", "cleaning"]) == 0
    assert "已导入 1 项" in capsys.readouterr().out
    assert (tmp_path / "data" / "standards" / "cleaning.yaml").is_file()
    assert main(["standards", "list"]) == 0
    assert "cleaning" in capsys.readouterr().out


def test_import_bad_workbook_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a zip")
    assert main(["standards", "import", str(bad), "--id", "x-std"]) == 2
    err = capsys.readouterr().err
    assert "不是有效的 Excel" in err
    assert "Traceback" not in err


def test_console_command_help_and_bad_setting(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0
    assert "品检" in run.stdout and "standards" in run.stdout
    env = {"PINJIAN_HTTP_PORT": "eighty", "PATH": "/usr/bin:/bin"}
    bad = subprocess.run(
        [sys.executable, "-m", "bot", "standards", "list"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "pinjian: PINJIAN_HTTP_PORT: Input should be a valid integer, unable to parse string "
        "as an integer"
    ]
