"""Importing a standard from an Excel workbook in the form layout companies keep."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from standards.importer import dump_yaml, import_workbook
from standards.loader import StandardError, check_data
from standards.rules import derive_rule

ROWS: list[tuple[object, ...]] = [
    ("物业服务品质检查标准——秩序维护",),
    (),
    ("序 号", "标准内容", "评分细则", "分 值", "得分", "责任人"),
    (None, "一、门岗管理"),
    (1, "门岗人员着装规范，\n仪容整洁", "现场检查,符合1分,部分符合0.5分,不符合0分", 1),
    (
        2,
        "外来人员、车辆出入登记完整",
        "有登记0.5分,登记完整并可追溯1分(检查登记本,抽查3件登记信息),不符合0分",
        1,
    ),
    ("二、巡逻管理",),
    (3, "按规定路线巡逻并记录", "巡逻及时率100%得满分", "1"),
    (4, "消防通道畅通", "检查档案资料,完全符合2分,任一不符合1分,完全不符合0分", 2),
]


def _workbook(path: Path, rows: list[tuple[object, ...]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def test_import_reads_sections_items_and_levels(tmp_path: Path) -> None:
    result = import_workbook(_workbook(tmp_path / "std.xlsx", ROWS), "security")
    standard = result.standard
    assert standard.title == "物业服务品质检查标准——秩序维护"
    assert [s.heading for s in standard.sections] == ["一、门岗管理", "二、巡逻管理"]
    first = standard.item(1)
    assert first.content == "门岗人员着装规范，仪容整洁"
    assert [(lv.score, lv.label) for lv in first.levels] == [
        (1, "符合"),
        (0.5, "部分符合"),
        (0, "不符合"),
    ]
    assert first.method == "现场检查"
    second = standard.item(2)
    assert [lv.label for lv in second.levels] == ["登记完整并可追溯", "有登记", "不符合"]
    assert second.method == "检查登记本,抽查3件登记信息"
    assert second.sample is not None and second.sample.size == 3
    fourth = standard.item(4)
    assert fourth.max_score == 2
    assert [lv.score for lv in fourth.levels] == [2, 1, 0]


def test_import_flags_items_it_cannot_understand(tmp_path: Path) -> None:
    result = import_workbook(_workbook(tmp_path / "std.xlsx", ROWS), "security")
    flagged = {flag.no for flag in result.flags}
    assert flagged == {3}
    third = result.standard.item(3)
    assert third.note is not None and "通用分档" in third.note
    assert [lv.label for lv in third.levels] == ["符合", "部分符合", "不符合"]
    assert third.target is not None and third.target.metrics[0].name == "巡逻及时率"


def test_imported_file_round_trips_through_the_loader(tmp_path: Path) -> None:
    import yaml

    result = import_workbook(_workbook(tmp_path / "std.xlsx", ROWS), "security", version="2")
    standard, problems = check_data(yaml.safe_load(dump_yaml(result.standard)), "out.yaml")
    assert problems == []
    assert standard == result.standard


def test_bad_workbooks_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(StandardError, match="文件不存在"):
        import_workbook(tmp_path / "none.xlsx", "x-std")
    not_excel = tmp_path / "fake.xlsx"
    not_excel.write_text("this is not a workbook", encoding="utf-8")
    with pytest.raises(StandardError, match="不是有效的 Excel"):
        import_workbook(not_excel, "x-std")
    no_header = _workbook(tmp_path / "nohdr.xlsx", [("随便",), (1, "内容", "规则", 1)])
    with pytest.raises(StandardError, match="找不到表头"):
        import_workbook(no_header, "x-std")
    missing_rule = _workbook(
        tmp_path / "norule.xlsx", [("序号", "标准内容", "评分细则", "分值"), (1, "内容", None, 1)]
    )
    with pytest.raises(StandardError, match="第2行"):
        import_workbook(missing_rule, "x-std")


def test_derive_rule_handles_the_seed_shapes() -> None:
    graded = derive_rule(
        "有回访制度0.5分,有效执行并详细记录1分(检查回访记录,抽查3件回访信息),不符合要求0分", 1
    )
    assert [lv.label for lv in graded.levels] == ["有效执行并详细记录", "有回访制度", "不符合要求"]
    assert graded.problems == []
    special = derive_rule("检查记录,表扬奖励属实1分,部分属实0.5分,不属实或批评/群诉事件0分", 1)
    assert special.levels[-1].label == "不属实或批评/群诉事件"
    assert special.method == "检查记录"
    twice = derive_rule("有计划0.5分,并有效执行1分,图文并茂1分,不符合0分", 1)
    assert any("出现多次" in p for p in twice.problems)
