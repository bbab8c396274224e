"""Labels come from macros of templates/<locale>/labels/<group>.j2."""

from __future__ import annotations

from enum import StrEnum

import pytest

from bot.core.company_settings import KEYS, Source
from bot.core.plans import OccurrenceStatus, every_name
from bot.core.task_types import TaskEventKind, TaskStatus
from bot.core.texts import _fixed, label, labels, plain
from bot.flows.access import role_name
from bot.flows.commands import COMMANDS
from storage.records import AppealDecision, ConfirmHow, PlanEvery, ResultStatus, Role


def test_label_is_the_macro_of_its_group() -> None:
    assert label("common", "not_applicable") == "不适用"


def test_a_label_without_values_is_made_once() -> None:
    _fixed.cache_clear()
    assert [label("buttons", "photo"), label("buttons", "photo")] == ["📷 照片", "📷 照片"]
    assert plain("common", "not_applicable") == label("common", "not_applicable") == "不适用"
    assert (_fixed.cache_info().misses, _fixed.cache_info().hits) == (3, 1)


def test_unknown_label_fails_loudly() -> None:
    with pytest.raises(AttributeError):
        label("common", "no_such_label")


def test_labels_of_a_group_in_order() -> None:
    assert labels("columns", "no", "content", "remark") == ("序号", "标准内容", "备注")


def test_a_label_escapes_user_values_and_plain_keeps_them() -> None:
    names = ["A&B", "<甲>"]
    assert label("common", "enumeration", items=names) == "A&amp;B、&lt;甲&gt;"
    assert plain("common", "enumeration", items=names) == "A&B、<甲>"


def test_plain_keeps_spaces_at_either_end_of_a_value() -> None:
    assert plain("common", "semicolons", items=[" 墙面 ", "地面 "]) == " 墙面 ；地面 "


@pytest.mark.parametrize(
    ("group", "enum"),
    [
        ("task_status", TaskStatus),
        ("plan_status", OccurrenceStatus),
        ("plan_every", PlanEvery),
        ("result_status", ResultStatus),
        ("confirm_how", ConfirmHow),
        ("appeal_decision", AppealDecision),
        ("setting_source", Source),
        ("roles", Role),
    ],
)
def test_every_value_of_an_enum_has_its_label(group: str, enum: type[StrEnum]) -> None:
    for value in enum:
        assert label(group, value)


def test_enum_labels_read_as_before() -> None:
    assert [s.label for s in TaskStatus] == ["待整改", "待复查", "已完成", "已撤销"]
    assert [s.label for s in OccurrenceStatus] == ["未开始", "进行中", "已完成", "逾期完成", "漏检"]
    assert [every_name(e) for e in PlanEvery] == ["周检", "月检", "季检"]
    assert [s.label for s in ResultStatus] == ["待确认", "申诉中", "已确认"]
    assert [h.label for h in ConfirmHow] == ["确认", "逾期自动确认"]
    assert [d.label for d in AppealDecision] == ["维持", "改判", "撤销"]
    assert [role_name(r) for r in Role] == ["检查员", "责任人", "经理"]


def test_every_task_event_but_a_change_of_state_has_its_label() -> None:
    for kind in TaskEventKind:
        if kind is not TaskEventKind.STATUS:
            assert label("events", kind)
    assert label("events", "status", source="待整改", target="待复查") == "待整改→待复查"


def test_every_command_and_setting_is_described() -> None:
    assert all(command.label for command in COMMANDS)
    assert all(key.description and key.allowed for key in KEYS.values())
    assert KEYS["timezone"].allowed == "IANA 时区名，如 Asia/Shanghai"
