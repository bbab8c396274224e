"""The registry of button actions (bot/core/actions.py): the codes on the wire stay those of the
buttons already sent, every payload the bot builds names its action by a member, and every
button label comes from labels/buttons.j2."""

from __future__ import annotations

import ast
import re
from enum import StrEnum
from pathlib import Path

import pytest

from bot.core import payload
from bot.core.actions import (
    Action,
    ConfirmAction,
    QueuedAction,
    SampleAction,
    TaskAction,
    find,
)
from bot.core.texts import label

ROOT = Path(__file__).resolve().parents[2]
NAMESPACES: tuple[type[StrEnum], ...] = (
    Action,
    TaskAction,
    ConfirmAction,
    QueuedAction,
    SampleAction,
)
# The codes buttons sent before the registry carry; a change strands them in people's chats.
WIRE = {
    Action: {
        "TASK": "K",
        "CONFIRMATION": "A",
        "QUEUED": "Q",
        "PLAN_START": "O",
        "SITE": "S",
        "STANDARD": "T",
        "RESUME": "R",
        "NEW_INSPECTION": "NEW",
        "REPORT_SITE": "RP",
        "PLAN_CHOICE": "PL",
        "CONTENTS": "C",
        "CONTENTS_SECTION": "CS",
        "JUMP": "J",
        "PAUSE": "PA",
        "SUBMIT": "SUB",
        "LEVEL": "L",
        "NOT_APPLICABLE": "NA",
        "PHOTO": "P",
        "NOTE": "M",
        "PREVIOUS": "V",
        "SAMPLE": "X",
        "SAMPLE_STEP": "XS",
        "FIGURES": "F",
        "RULES": "RU",
        "TASK_RESPONSIBLE": "TR",
        "TASK_SEVERITY": "TS",
        "TASK_DAYS": "TD",
        "TASK_REMARK": "TM",
        "TASK_CONFIRM": "TOK",
    },
    TaskAction: {
        "DETAILS": "D",
        "START_FIX": "F",
        "SUBMIT_FIX": "FS",
        "APPROVE": "OK",
        "REJECT": "RJ",
        "EXTENSION": "E",
        "EXTENSION_DAYS": "ED",
        "APPROVE_EXTENSION": "EA",
        "REJECT_EXTENSION": "ER",
    },
    ConfirmAction: {
        "CONFIRM_ALL": "OK",
        "APPEAL": "AP",
        "UPHOLD": "UP",
        "CHANGE": "CH",
        "CHANGE_TO": "CL",
        "WITHDRAW": "WD",
    },
    QueuedAction: {"LEVEL": "L", "NOT_APPLICABLE": "NA", "OPEN": "O", "NOTE": "M"},
    SampleAction: {"PASS": "p", "FAIL": "f", "UNDO": "u", "DONE": "d"},
}
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


@pytest.mark.parametrize("kind", NAMESPACES, ids=lambda kind: kind.__name__)
def test_codes_are_those_already_on_the_wire(kind: type[StrEnum]) -> None:
    assert {m.name: m.value for m in kind} == WIRE[kind]


@pytest.mark.parametrize("kind", NAMESPACES, ids=lambda kind: kind.__name__)
def test_codes_are_unique_and_fit_a_payload_part(kind: type[StrEnum]) -> None:
    values = [m.value for m in kind]
    assert len(kind.__members__) == len(set(values)), "an alias: two names share one code"
    for value in values:
        assert payload.decode(value) == [value]


def test_a_payload_is_built_from_members_and_read_back() -> None:
    code = payload.encode(Action.TASK, TaskAction.APPROVE_EXTENSION, 12, 3, 45)
    assert code == "K:EA:12:3:45"
    parts = payload.decode(code)
    assert find(Action, parts[0]) is Action.TASK
    assert find(TaskAction, parts[1]) is TaskAction.APPROVE_EXTENSION


def test_an_unknown_code_is_no_member() -> None:
    assert find(Action, "ZZ") is None
    assert find(SampleAction, "P") is None, "codes are case-sensitive"
    assert find(ConfirmAction, "K") is None


def _product_modules() -> list[tuple[Path, ast.Module]]:
    return [
        (file, ast.parse(file.read_text(encoding="utf-8")))
        for file in sorted((ROOT / "bot").rglob("*.py"))
    ]


def _calls(func: str) -> list[tuple[str, ast.Call]]:
    """Every call of `func` (as a name or an attribute) in bot/, with where it is."""
    found = []
    for file, tree in _product_modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            callee = node.func
            name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
            if name == func:
                found.append((f"{file.relative_to(ROOT)}:{node.lineno}", node))
    return found


def _literals(node: ast.AST) -> list[str]:
    return [
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def test_every_payload_names_its_action_by_a_registry_member() -> None:
    encodes = [
        (where, call)
        for where, call in _calls("encode")
        if ast.unparse(call.func) == "payload.encode"
        and not where.startswith("bot/core/payload.py")
    ]
    assert len(encodes) > 30, "the scan found the payloads"
    for where, call in encodes:
        first = call.args[0]
        assert (
            isinstance(first, ast.Attribute)
            and ast.unparse(first.value) == "Action"
            and first.attr in Action.__members__
        ), f"{where}: payload.encode({ast.unparse(first)}, …) does not start with an Action"
        for arg in call.args:
            assert not _literals(arg), f"{where}: a code written as a literal: {ast.unparse(arg)}"


def _macros() -> set[str]:
    text = (ROOT / "bot/templates/zh_CN/labels/buttons.j2").read_text(encoding="utf-8")
    return set(re.findall(r"\{% macro (\w+)\(", text))


def test_no_button_label_is_a_chinese_literal() -> None:
    buttons = _calls("Button")
    assert buttons, "the scan found the buttons"
    for where, call in buttons:
        texts = [*call.args[:1], *(k.value for k in call.keywords if k.arg == "text")]
        for text in texts:
            assert not any(CJK.search(s) for s in _literals(text)), (
                f"{where}: the label {ast.unparse(text)} belongs in labels/buttons.j2"
            )


def test_every_labelled_button_names_a_macro_of_buttons_j2() -> None:
    macros = _macros()
    keys = [
        (where, call.args[0].value)
        for helper in ("button", "_button", "step")
        for where, call in _calls(helper)
        if call.args and isinstance(call.args[0], ast.Constant)
    ]
    assert len(keys) > 30
    for where, key in keys:
        assert key in macros, f"{where}: no macro {key!r} in labels/buttons.j2"


@pytest.mark.parametrize(
    ("key", "values", "shown"),
    [
        ("level", {"score": 0.5, "name": "部分符合"}, "0.5分 部分符合"),
        ("level", {"score": 1.0, "name": "符合"}, "1分 符合"),
        ("choice", {"name": "李四", "chosen": True}, "✓ 李四"),
        ("choice", {"name": "一般", "chosen": False}, "一般"),
        ("due_days", {"days": 3, "chosen": True}, "✓+3天"),
        ("due_days", {"days": 7, "chosen": False}, "+7天"),
        ("rules", {"open": True}, "评分细则 ▾"),
        ("rules", {"open": False}, "评分细则 ▸"),
        (
            "contents_section",
            {"heading": "一、客户管理", "done": 3, "total": 10},
            "一、客户管理  3/10",
        ),
        ("contents_item", {"no": 12, "answered": True}, "✓12"),
        ("contents_item", {"no": 13, "answered": False}, "·13"),
        ("resume", {"site": "阳光花园", "done": 5, "total": 62}, "阳光花园 · 5/62"),
        ("appeal", {"no": 7}, "申诉 第7项"),
        ("extension_days", {"days": 15}, "+15天"),
        ("task_number", {"id": 42}, "#42"),
        ("confirm_date", {"date": "2026-12-01"}, "是，定为 2026-12-01"),
        ("sample_pass", {"name": "接通"}, "✓ 接通"),
        ("sample_fail", {"name": "未接通"}, "✗ 未接通"),
        ("not_applicable", {}, "不适用"),
        ("start_fix", {}, "已整改，上传照片"),
    ],
)
def test_labels_read_as_before(key: str, values: dict[str, object], shown: str) -> None:
    assert label("buttons", key, **values) == shown


def test_a_label_is_plain_text_values_are_not_escaped() -> None:
    assert label("buttons", "choice", name="A&B <物业>", chosen=False) == "A&B <物业>"
    assert label("buttons", "level", score=0, name="<60%") == "0分 <60%"


def test_the_codes_the_web_page_knows_are_registry_members() -> None:
    """The page answers offline and opens the camera from the codes of the buttons it shows."""
    script = (ROOT / "bot/static/chat.js").read_text(encoding="utf-8")
    item = re.search(r"const ITEM = /\^\(([A-Z|]+)\):", script)
    photo = re.search(r"const ASKS_FOR_PHOTO = /\^\(([A-Z|:]+)\):/", script)
    assert item is not None and photo is not None
    assert set(item.group(1).split("|")) <= {m.value for m in Action}
    assert photo.group(1).split("|") == [
        Action.PHOTO.value,
        f"{Action.TASK.value}:{TaskAction.START_FIX.value}",
    ]
