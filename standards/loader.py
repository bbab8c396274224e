"""Loading and checking standard files, reporting every problem with file, item and field."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from standards.schema import Standard

BUILTIN_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Problem:
    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}: {self.where}: {self.message}"
            if self.where
            else (f"{self.file}: {self.message}")
        )


class StandardError(Exception):
    """A standard file that cannot be used; `problems` lists everything wrong with it."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _describe(loc: Sequence[int | str], raw: Any) -> str:
    """Turn a pydantic location into 'section 一 / item 4 / levels'."""
    parts: list[str] = []
    node: Any = raw
    for key in loc:
        child: Any = None
        if isinstance(node, dict):
            child = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            child = node[key]
        if isinstance(key, int) and isinstance(child, dict):
            if "no" in child:
                parts.append(f"第{child['no']}项 (item {child['no']})")
            elif "code" in child:
                parts.append(f"章节 {child['code']} (section)")
            else:
                parts.append(f"#{key + 1}")
        elif isinstance(key, int):
            parts.append(f"#{key + 1}")
        elif key != "items" and key != "sections":
            parts.append(str(key))
        node = child
    return " / ".join(parts)


def _numbering_problems(raw: dict[str, Any], file: str) -> list[Problem]:
    """Check numbering on raw data, so it is reported even when items are also broken."""
    numbers: list[int] = []
    for section in raw.get("sections") or []:
        if not isinstance(section, dict):
            continue
        for item in section.get("items") or []:
            if isinstance(item, dict) and isinstance(item.get("no"), int):
                numbers.append(item["no"])
    problems = []
    seen: set[int] = set()
    for no in numbers:
        if no in seen:
            problems.append(Problem(file, f"第{no}项 (item {no})", "序号重复 duplicate number"))
        seen.add(no)
    expected = list(range(1, len(numbers) + 1))
    if numbers and sorted(seen) != expected[: len(seen)]:
        missing = sorted(set(expected) - seen)
        problems.append(
            Problem(file, "sections", f"序号不连续 numbers not contiguous (缺少 missing {missing})")
        )
    elif numbers and numbers != sorted(numbers):
        problems.append(Problem(file, "sections", "序号未按顺序排列 numbers out of order"))
    return problems


def check_data(raw: object, file: str) -> tuple[Standard | None, list[Problem]]:
    if not isinstance(raw, dict):
        return None, [Problem(file, "", "文件内容不是一个标准 (expected a mapping at top level)")]
    try:
        return Standard.model_validate(raw), []
    except ValidationError as exc:
        problems = [
            Problem(file, _describe(err["loc"], raw), err["msg"].removeprefix("Value error, "))
            for err in exc.errors(include_url=False, include_input=False)
        ]
    numbering = _numbering_problems(raw, file)
    known = {p.message for p in problems}
    problems.extend(p for p in numbering if p.message not in known)
    return None, problems


def read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StandardError([Problem(str(path), "", "文件不存在 file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StandardError(
            [Problem(str(path), "", f"无法读取 cannot read: {exc.__class__.__name__}")]
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第{mark.line + 1}行 line {mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or "invalid YAML"
        raise StandardError([Problem(str(path), where, f"YAML 格式错误: {reason}")]) from None


def check_file(path: Path) -> list[Problem]:
    try:
        raw = read_yaml(path)
    except StandardError as exc:
        return exc.problems
    return check_data(raw, str(path))[1]


def load_file(path: Path) -> Standard:
    standard, problems = check_data(read_yaml(path), str(path))
    if standard is None:
        raise StandardError(problems)
    return standard


def standard_dirs(data_dir: Path | None) -> list[Path]:
    """The built-in standards, then the company's own under <data dir>/standards."""
    dirs = [BUILTIN_DIR]
    if data_dir is not None:
        dirs.append(data_dir / "standards")
    return dirs


def load_all(dirs: Iterable[Path]) -> dict[str, Standard]:
    """Every valid standard by id; a later directory overrides an earlier one's id."""
    found: dict[str, Standard] = {}
    problems: list[Problem] = []
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.yaml")):
            try:
                standard = load_file(path)
            except StandardError as exc:
                problems.extend(exc.problems)
                continue
            found[standard.id] = standard
    if problems:
        raise StandardError(problems)
    return found
