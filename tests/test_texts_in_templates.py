"""Every text a user of the chat or a reader of a report sees comes from a template (issue 19,
"Texts"): no string literal in bot/core, bot/flows, bot/reports or the modules directly in bot/
holds Chinese, except docstrings, log messages (for the administrator, not the chat), button
labels (they move with the registry of named actions) and the few values listed in ALLOWED,
each with its reason. The demo company (bot/demo*.py) is data, and the CLI (bot/cli), the
administrator's tool, is not scanned yet."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("bot/core", "bot/flows", "bot/reports")
DATA = ("bot/demo.py", "bot/demo_history.py")
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
LOGGERS = {"log", "logger", "logging"}

INPUT = "reads what people type in Chinese"
ALLOWED: dict[tuple[str, str], str] = {
    ("bot/core/dates.py", "_FULL"): INPUT,
    ("bot/core/dates.py", "_MONTH_DAY"): INPUT,
    ("bot/core/dates.py", "_IN_DAYS"): INPUT,
    ("bot/core/dates.py", "_WORDS"): INPUT,
    ("bot/core/dates.py", "_WEEK"): INPUT,
    ("bot/core/dates.py", "_WEEKDAYS"): INPUT,
    ("bot/core/dates.py", "_FULLWIDTH"): INPUT,
    ("bot/core/kpi.py", "_MONTH"): INPUT,
    ("bot/core/ladder.py", "NAMES"): INPUT,
    ("bot/flows/measure.py", "value_text"): INPUT,
    ("bot/flows/commands.py", "COMMANDS"): INPUT + " (the menus' labels are templates)",
    ("bot/flows/commands.py", "WORDS"): INPUT,
    (
        "bot/core/scoring.py",
        "DEFAULT_GRADE_BANDS",
    ): "a company setting's default, stored as a value",
    (
        "bot/core/company_settings.py",
        "severity_names",
    ): "a company setting's default, stored as a value",
    ("bot/flows/appeals.py", "APPEAL_SOURCE"): "stored in an answer's details, never shown",
    ("bot/reports/excel.py", "FONT_NAME"): "the name of a font, not a text",
    ("bot/reports/pdf.py", "printed"): "the form's comma, put in place of an ASCII one",
    ("bot/delivery.py", "_deliver_one"): "an internal error, in English, that names a 通报",
}


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _logs(call: ast.Call) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in LOGGERS
    )


def _exempt(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """A docstring (of a module, class, function or attribute) or a log message."""
    parent = parents.get(node)
    if isinstance(parent, ast.Expr):
        return True
    while parent is not None:
        if isinstance(parent, ast.Call) and _logs(parent):
            return True
        parent = parents.get(parent)
    return False


def _owner(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> str:
    """The name the literal belongs to: the assignment or the function holding it."""
    parent = parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Assign) and isinstance(parent.targets[0], ast.Name):
            return parent.targets[0].id
        if isinstance(parent, ast.AnnAssign) and isinstance(parent.target, ast.Name):
            return parent.target.id
        if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return parent.name
        parent = parents.get(parent)
    return ""


def chinese_literals(source: str, path: str) -> list[tuple[str, int, str, str]]:
    """(path, line, owner, text) of each Chinese string literal that is not exempt."""
    tree = ast.parse(source)
    parents = _parents(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if CJK.search(node.value) and not _exempt(node, parents):
            found.append((path, node.lineno, _owner(node, parents), node.value))
    return found


def _files() -> list[Path]:
    files = [file for folder in SCANNED for file in sorted((ROOT / folder).rglob("*.py"))]
    top = sorted((ROOT / "bot").glob("*.py"))
    return files + [file for file in top if file.relative_to(ROOT).as_posix() not in DATA]


def _scan() -> list[tuple[str, int, str, str]]:
    found = []
    for file in _files():
        path = file.relative_to(ROOT).as_posix()
        found += chinese_literals(file.read_text(encoding="utf-8"), path)
    return found


def test_no_chinese_text_is_written_in_python() -> None:
    stray = [
        f"{path}:{line} ({owner}) {text!r}"
        for path, line, owner, text in _scan()
        if (path, owner) not in ALLOWED
    ]
    assert not stray, "texts belong in bot/templates (bot.core.texts):\n" + "\n".join(stray)


def test_every_allowance_is_still_needed() -> None:
    used = {(path, owner) for path, _, owner, _ in _scan()}
    assert sorted(set(ALLOWED) - used) == []


def test_the_scan_finds_a_text_and_passes_what_is_exempt() -> None:
    source = '''
"""模块说明"""
import logging
log = logging.getLogger(__name__)
HINT = "请稍候"
def f(x):
    """函数说明"""
    log.warning("日志 %s", x)
    return Button(f"确认 {x}", "OK"), g(f"共 {x} 项")
'''
    found = [(owner, text) for _, _, owner, text in chinese_literals(source, "m.py")]
    assert sorted(found) == [
        ("HINT", "请稍候"),
        ("f", " 项"),
        ("f", "共 "),
        ("f", "确认 "),
    ], "a button's label is a text like any other"
