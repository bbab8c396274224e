"""Importing a standard from the Excel layout companies keep (序号 / 标准内容 / 评分细则 / 分值)."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError

from standards.loader import Problem, StandardError
from standards.rules import derive_rule, derive_target, generic_levels
from standards.schema import Section, Standard

_SECTION = re.compile(r"^\s*(?P<code>[一二三四五六七八九十]+)\s*[、.．]\s*(?P<title>\S.*?)\s*$")
_HEADERS = {"序号": "no", "标准内容": "content", "评分细则": "rule", "分值": "max_score"}
_OPTIONAL_HEADERS = {"检查方法": "method"}


@dataclass(frozen=True)
class Flag:
    """An item the importer could not fully understand; it still got usable levels."""

    no: int
    reason: str


@dataclass(frozen=True)
class ImportResult:
    standard: Standard
    flags: list[Flag]


def _text(value: Any) -> str:
    if value is None:
        return ""
    return re.sub(r"\s*\n\s*", "", str(value)).strip()


def _header_key(value: Any) -> str:
    return re.sub(r"\s+", "", _text(value))


def _find_header(rows: list[tuple[Any, ...]], file: str) -> tuple[int, dict[str, int]]:
    wanted = {**_HEADERS, **_OPTIONAL_HEADERS}
    for index, row in enumerate(rows):
        columns = {wanted[_header_key(v)]: i for i, v in enumerate(row) if _header_key(v) in wanted}
        if all(name in columns for name in _HEADERS.values()):
            return index, columns
    missing = " / ".join(_HEADERS)
    raise StandardError(
        [Problem(file, "表头 header", f"找不到表头行 no header row with {missing}")]
    )


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = _text(value)
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _read_rows(path: Path) -> tuple[str, list[tuple[Any, ...]]]:
    file = str(path)
    if not path.is_file():
        raise StandardError([Problem(file, "", "文件不存在 file not found")])
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise StandardError(
            [Problem(file, "", "不是有效的 Excel (.xlsx) 文件 not a readable .xlsx workbook")]
        ) from None
    try:
        sheet = workbook.worksheets[0]
        return sheet.title, [tuple(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _build_item(
    no: int, content: str, rule: str, max_score: float, method: str
) -> tuple[dict[str, Any], list[Flag]]:
    derived = derive_rule(rule, max_score)
    flags = [Flag(no, p) for p in derived.problems]
    levels = derived.levels if not derived.problems else generic_levels(max_score)
    chosen_method = method or derived.method
    if not chosen_method:
        flags.append(
            Flag(no, "评分细则未写明检查方法，已设为现场检查 (no method; set to 现场检查)")
        )
        chosen_method = "现场检查"
    note = None
    if derived.problems:
        note = "导入时未能从评分细则识别分档，已使用通用分档，请核对：" + "；".join(
            derived.problems
        )
    target = derive_target(content) or derive_target(rule)
    item = {
        "no": no,
        "content": content,
        "rule": rule,
        "max_score": max_score,
        "levels": [level.model_dump() for level in levels],
        "method": chosen_method,
        "sample": derived.sample.model_dump() if derived.sample else None,
        "target": target.model_dump() if target else None,
        "note": note,
    }
    return item, flags


def import_workbook(
    path: Path, std_id: str, *, title: str | None = None, version: str = "1.0"
) -> ImportResult:
    file = str(path)
    sheet_title, rows = _read_rows(path)
    header_index, columns = _find_header(rows, file)
    found_title = title
    if found_title is None:
        above = [_text(v) for row in rows[:header_index] for v in row if _text(v)]
        found_title = above[0] if above else sheet_title
    sections: list[dict[str, Any]] = []
    flags: list[Flag] = []
    problems: list[Problem] = []
    for offset, row in enumerate(rows[header_index + 1 :], start=header_index + 2):

        def cell(name: str, row: tuple[Any, ...] = row) -> Any:
            index = columns.get(name)
            return row[index] if index is not None and index < len(row) else None

        number = _as_number(cell("no"))
        texts = [_text(v) for v in row if _text(v)]
        if number is None:
            section = next((m for m in map(_SECTION.match, texts) if m), None)
            if section is not None:
                code, heading = section.group("code"), section.group("title")
                sections.append({"code": code, "title": heading, "items": []})
            continue
        if not sections:
            sections.append({"code": "一", "title": found_title, "items": []})
        max_score = _as_number(cell("max_score"))
        content, rule = _text(cell("content")), _text(cell("rule"))
        if max_score is None or not content or not rule:
            problems.append(
                Problem(file, f"第{offset}行 row {offset}", "缺少标准内容、评分细则或分值")
            )
            continue
        item, item_flags = _build_item(int(number), content, rule, max_score, _text(cell("method")))
        sections[-1]["items"].append(item)
        flags.extend(item_flags)
    if problems:
        raise StandardError(problems)
    sections = [s for s in sections if s["items"]]
    try:
        standard = Standard(
            id=std_id,
            version=version,
            title=found_title,
            sections=tuple(Section.model_validate(s) for s in sections),
        )
    except ValidationError as exc:
        raise StandardError(
            [
                Problem(file, ".".join(str(p) for p in err["loc"]), err["msg"])
                for err in exc.errors(include_url=False, include_input=False)
            ]
        ) from None
    return ImportResult(standard=standard, flags=flags)


def dump_yaml(standard: Standard) -> str:
    return yaml.safe_dump(standard.to_json_dict(), allow_unicode=True, sort_keys=False, width=1000)
