"""The standard schema, the loader's problem reports and the content hash."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from standards.loader import StandardError, check_data, check_file, load_all, load_file
from standards.schema import Standard


def _item(no: int, **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "no": no,
        "content": f"标准内容{no}",
        "rule": "现场检查,符合1分,部分符合0.5分,不符合0分",
        "max_score": 1,
        "levels": [
            {"score": 1, "label": "符合"},
            {"score": 0.5, "label": "部分符合"},
            {"score": 0, "label": "不符合"},
        ],
        "method": "现场检查",
    }
    item.update(overrides)
    return item


def _standard(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "test-std",
        "version": "1.0",
        "title": "测试标准",
        "sections": [{"code": "一", "title": "客户管理", "items": items}],
    }


def test_valid_standard_loads_with_totals() -> None:
    standard, problems = check_data(_standard([_item(1), _item(2)]), "t.yaml")
    assert problems == []
    assert standard is not None
    assert standard.max_score == 2
    assert standard.item(2).content == "标准内容2"
    assert standard.section_of(1).heading == "一、客户管理"


def test_every_problem_is_reported_with_item_and_field() -> None:
    items = [
        _item(1, levels=[{"score": 0.5, "label": "部分"}, {"score": 0, "label": "不符合"}]),
        _item(2, content="   "),
        _item(3, levels=[{"score": 1, "label": "符合"}, {"score": 0.5, "label": "部分"}]),
        _item(4, levels=[{"score": 0, "label": "不符合"}, {"score": 1, "label": "符合"}]),
        _item(4),
    ]
    _, problems = check_data(_standard(items), "broken.yaml")
    text = "\n".join(str(p) for p in problems)
    assert "第1项" in text and "不等于分值" in text
    assert "第2项" in text and "content" in text
    assert "第3项" in text and "0 分档" in text
    assert "从高到低" in text
    assert "序号重复" in text
    assert all(p.file == "broken.yaml" for p in problems)


def test_numbering_gap_is_reported() -> None:
    _, problems = check_data(_standard([_item(1), _item(3)]), "gap.yaml")
    assert any("不连续" in p.message for p in problems)


def test_empty_label_and_unknown_field_are_rejected() -> None:
    items = [_item(1, levels=[{"score": 1, "label": ""}, {"score": 0, "label": "否"}], extra=1)]
    _, problems = check_data(_standard(items), "x.yaml")
    fields = {p.where for p in problems}
    assert any("levels" in f for f in fields)
    assert any("extra" in f for f in fields)


def test_content_hash_changes_with_content_only() -> None:
    a = Standard.model_validate(_standard([_item(1)]))
    b = Standard.model_validate(copy.deepcopy(_standard([_item(1)])))
    assert a.content_hash() == b.content_hash()
    changed = Standard.model_validate(_standard([_item(1, content="改过的内容")]))
    assert changed.content_hash() != a.content_hash()


def test_loader_errors_for_missing_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(StandardError, match="文件不存在"):
        load_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: [unclosed\n", encoding="utf-8")
    problems = check_file(bad)
    assert len(problems) == 1 and "YAML" in problems[0].message
    not_mapping = tmp_path / "list.yaml"
    not_mapping.write_text("- a\n- b\n", encoding="utf-8")
    assert "mapping" in check_file(not_mapping)[0].message


def test_load_all_later_dir_overrides_and_reports_broken(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "s.yaml").write_text(yaml.safe_dump(_standard([_item(1)])), encoding="utf-8")
    newer = _standard([_item(1), _item(2)])
    (second / "s.yaml").write_text(yaml.safe_dump(newer), encoding="utf-8")
    found = load_all([first, second])
    assert len(found["test-std"].items) == 2
    (second / "broken.yaml").write_text("id: x\n", encoding="utf-8")
    with pytest.raises(StandardError) as info:
        load_all([first, second])
    assert all("broken.yaml" in p.file for p in info.value.problems)
