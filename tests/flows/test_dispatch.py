"""Each button action reaches its handler: the router's dispatch, pressed through the engine
with the handler replaced by a recorder (the handlers' own behaviour is tested with their
flows), and a code no member names is refused as stale."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from bot.core import payload
from bot.core.actions import Action, ConfirmAction, QueuedAction, SampleAction, TaskAction
from bot.flows import (
    appeals,
    confirm,
    evidence,
    inspection,
    manager,
    measure,
    plans,
    queued,
    router,
    task_setup,
    tasks,
)
from bot.flows.inspection_view import Loaded
from standards.schema import Item
from tests.flows.harness import Harness, User

INSPECTION = "inspection 1"
ITEM = "item 1"
STALE = ("这个按钮已失效，请使用最新的消息。", True)


class Recorder:
    """Stands in for a handler: records what it was called with (the context left out)."""

    def __init__(self, result: Any = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.result = result

    async def __call__(self, *args: Any) -> Any:
        self.calls.append(tuple(_shown(a) for a in args[1:]))
        return self.result


def _shown(value: Any) -> Any:
    if isinstance(value, Loaded):
        return f"inspection {value.inspection.id}"
    if isinstance(value, Item):
        return f"item {value.no}"
    return value


# Action → (module, handler, the payload's arguments after the screen, what the handler gets).
# A screenless action's arguments are the whole payload after its code.
STAMPED: dict[Action, tuple[ModuleType, str, tuple[Any, ...], tuple[Any, ...]]] = {
    Action.SITE: (inspection, "on_site", (1,), (1,)),
    Action.STANDARD: (inspection, "on_standard", (1, 0), (1, 0)),
    Action.RESUME: (inspection, "resume", (1,), (1,)),
    Action.NEW_INSPECTION: (inspection, "choose_site", (), ()),
    Action.REPORT_SITE: (manager, "report_site", (1,), (1,)),
    Action.PLAN_CHOICE: (plans, "chosen", (0,), (0,)),
    Action.CONTENTS: (inspection, "table_of_contents", (1,), (INSPECTION,)),
    Action.CONTENTS_SECTION: (inspection, "toc_section", (1, 2), (INSPECTION, 2)),
    Action.JUMP: (inspection, "jump", (1, 5), (INSPECTION, 5)),
    Action.PAUSE: (inspection, "pause", (1,), ()),
    Action.SUBMIT: (inspection, "submit", (1,), (INSPECTION,)),
    Action.LEVEL: (inspection, "answer", (1, 1, 2), (INSPECTION, ITEM, 2)),
    Action.NOT_APPLICABLE: (inspection, "not_applicable", (1, 1), (INSPECTION, ITEM)),
    Action.PHOTO: (evidence, "ask_photo", (1, 1), (ITEM,)),
    Action.NOTE: (evidence, "ask_note", (1, 1), (ITEM,)),
    Action.PREVIOUS: (inspection, "previous", (1, 1), (INSPECTION, ITEM)),
    Action.SAMPLE: (measure, "start_sample", (1, 1), (INSPECTION, ITEM)),
    Action.SAMPLE_STEP: (
        measure,
        "on_sample",
        (1, 1, SampleAction.UNDO),
        (INSPECTION, ITEM, SampleAction.UNDO),
    ),
    Action.FIGURES: (measure, "start_figures", (1, 1), (INSPECTION, ITEM)),
    Action.RULES: (router, "toggle_rules", (1, 1), (INSPECTION, ITEM)),
    Action.TASK_RESPONSIBLE: (task_setup, "choose_responsible", (1, 1, 3), (INSPECTION, ITEM, 3)),
    Action.TASK_SEVERITY: (task_setup, "choose_severity", (1, 1, 0), (INSPECTION, ITEM, 0)),
    Action.TASK_DAYS: (task_setup, "choose_days", (1, 1, 7), (INSPECTION, ITEM, 7)),
    Action.TASK_REMARK: (task_setup, "ask_remark", (1, 1), ()),
    Action.TASK_CONFIRM: (task_setup, "confirm", (1, 1), (INSPECTION, ITEM)),
}
SCREENLESS: dict[Action, tuple[ModuleType, str, tuple[Any, ...], tuple[Any, ...]]] = {
    Action.TASK: (tasks, "press", (TaskAction.DETAILS, 9, 0), (["D", "9", "0"],)),
    Action.CONFIRMATION: (confirm, "press", (ConfirmAction.CONFIRM_ALL, 1), (["OK", "1"],)),
    Action.QUEUED: (queued, "press", (1, 1, QueuedAction.OPEN), (["1", "1", "O"],)),
    Action.PLAN_START: (plans, "pinned_target", (7,), (7,)),
}


async def _inspecting(harness: Harness) -> User:
    """王检查 with item 1 of a new inspection open."""
    seeded = await harness.seed()
    user = harness.user(101)
    await user.command("start", seeded["codes"]["王检查"])
    await user.command("inspect")
    await user.tap("阳光花园")
    return user


def _screen(user: User) -> int:
    return int(user.chat.with_buttons().button("1分").split(":")[1])


def test_every_action_has_a_route() -> None:
    assert set(STAMPED) | set(SCREENLESS) == set(Action)
    assert set(tasks.HANDLERS) == set(TaskAction) - {TaskAction.DETAILS}


async def _press_each(
    user: User,
    cases: dict[Any, tuple[ModuleType, str, tuple[Any, ...], tuple[Any, ...]]],
    code: Callable[[Any, tuple[Any, ...]], str],
) -> None:
    for key, (module, name, args, expected) in cases.items():
        recorder = Recorder()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(module, name, recorder)
            await user.press(code(key, args))
        assert recorder.calls == [expected], f"{key!r} did not reach {module.__name__}.{name}"


async def test_each_action_reaches_its_handler(harness: Harness) -> None:
    user = await _inspecting(harness)
    screen = _screen(user)
    await _press_each(user, STAMPED, lambda action, args: payload.encode(action, screen, *args))
    await _press_each(user, SCREENLESS, lambda action, args: payload.encode(action, *args))
    assert _screen(user) == screen, "no recorder moved the conversation on"


async def test_each_confirmation_and_queued_action_reaches_its_handler(harness: Harness) -> None:
    user = await _inspecting(harness)
    confirmations = {
        ConfirmAction.CONFIRM_ALL: (confirm, "confirm_all", (1,), (1,)),
        ConfirmAction.APPEAL: (confirm, "start_appeal", (1, 3), (1, 3)),
        ConfirmAction.UPHOLD: (appeals, "press", (5,), (ConfirmAction.UPHOLD, ["5"])),
        ConfirmAction.CHANGE: (appeals, "press", (5,), (ConfirmAction.CHANGE, ["5"])),
        ConfirmAction.CHANGE_TO: (appeals, "press", (5, 1), (ConfirmAction.CHANGE_TO, ["5", "1"])),
        ConfirmAction.WITHDRAW: (appeals, "press", (5,), (ConfirmAction.WITHDRAW, ["5"])),
    }
    assert set(confirmations) == set(ConfirmAction)
    await _press_each(
        user,
        confirmations,
        lambda action, args: payload.encode(Action.CONFIRMATION, action, *args),
    )
    answers = {
        QueuedAction.LEVEL: (queued, "_answer", (0, "-"), (INSPECTION, ITEM, "0", "-")),
        QueuedAction.NOT_APPLICABLE: (queued, "_answer", ("-",), (INSPECTION, ITEM, "NA", "-")),
        QueuedAction.OPEN: (queued, "_open", (), (INSPECTION, ITEM)),
    }
    assert set(answers) | {QueuedAction.NOTE} == set(QueuedAction)
    await _press_each(
        user, answers, lambda action, args: payload.encode(Action.QUEUED, 1, 1, action, *args)
    )
    opened, asked = Recorder(), Recorder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(queued, "_open", opened)
        patch.setattr(evidence, "ask_note", asked)
        await user.press(payload.encode(Action.QUEUED, 1, 1, QueuedAction.NOTE))
    assert opened.calls == [(INSPECTION, ITEM)] and asked.calls == [(ITEM,)]


async def test_a_confirmed_task_set_up_goes_on_to_the_next_item(harness: Harness) -> None:
    user = await _inspecting(harness)
    screen = _screen(user)
    after = Recorder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(task_setup, "confirm", Recorder(result=True))
        patch.setattr(inspection, "after_answer", after)
        await user.press(payload.encode(Action.TASK_CONFIRM, screen, 1, 1))
    assert after.calls == [(INSPECTION, ITEM)]


@pytest.mark.parametrize(
    "forged",
    [
        "ZZ:{screen}:1:1",
        "K:ZZ:1:0",
        "A:ZZ:1",
        "Q:1:1:ZZ",
        "XS:{screen}:1:1:z",
        "O:{screen}:1",
    ],
)
async def test_an_unknown_code_is_stale(harness: Harness, forged: str) -> None:
    user = await _inspecting(harness)
    screen = _screen(user)
    shown = len(user.chat.messages)
    await user.press(forged.format(screen=screen))
    assert user.chat.toasts[-1] == STALE
    assert len(user.chat.messages) == shown
    assert _screen(user) == screen


async def test_sample_steps_count_undo_and_finish(harness: Harness) -> None:
    user = await _inspecting(harness)
    for _ in range(3):
        await user.tap("1分")
    await user.tap("抽样记录")
    await user.tap("✓ 接通")
    await user.tap("✗ 未接通")
    assert "已记录 2/10：接通 1，未接通 1" in user.chat.last.text
    await user.tap("撤销上一个")
    assert "已记录 1/10：接通 1，未接通 0" in user.chat.last.text
    await user.tap("完成，返回该项")
    assert user.chat.with_buttons().labels[0].startswith("1分")
