"""The conversation state model (bot/core/conversation.py): the JSON rows carry, field by
field; rows the running version stored load unchanged; rows that do not validate restart."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from bot.core.conversation import ConversationState, Figures, Mode, Sample, TaskDraft
from bot.core.task_types import Severity

MODES = {
    "idle",
    "choose_site",
    "choose_standard",
    "choose_plan",
    "resume",
    "item",
    "note",
    "sample",
    "figure",
    "task",
    "task_remark",
    "toc",
    "submit",
    "fix",
    "reject_reason",
    "ext_date",
    "ext_reason",
    "appeal_reason",
    "appeal_decision",
}
"""Every mode string the flows have stored in rows."""

TASK = {
    "key": "7:12",
    "score": 0.5,
    "label": "部分符合",
    "sev": "serious",
    "resp": 4,
    "due": "2025-03-10",
    "due_chosen": True,
    "remark": "三日内更换",
    "ref": "t7.12.41",
    "date_example": True,
    "offer": "2025-03-12",
}
FULL: dict[str, Any] = {
    "mode": "task_remark",
    "screen": 41,
    "insp": 7,
    "no": 12,
    "item_ref": "i7.12.40",
    "return_mode": "task",
    "rules": True,
    "sample": {"no": 12, "p": 3, "f": 1, "order": ["p", "f", "p", "p"]},
    "figures": {"no": 12, "达标率": 95.0, "覆盖率": 80.5},
    "metric": 1,
    "task": TASK,
    "last_resp": 4,
    "date_example": 7,
    "submit_ref": "s7.40",
    "site": 2,
    "std": "community-culture",
    "task_id": 9,
    "task_version": 3,
    "ext_due": "2025-03-20",
    "ext_offer": "2025-03-21",
    "appeal_insp": 7,
    "appeal_item": 12,
    "appeal_photos": 2,
    "appeal_id": 5,
    "decision": "changed",
    "level": 1,
}
"""A row with every key set (no flow sets them all at once; the model does not mind)."""


def test_mode_values_are_the_strings_rows_carry() -> None:
    assert {mode.value for mode in Mode} == MODES
    assert all(Mode(value) == value for value in MODES)


def test_every_field_round_trips_under_its_json_key() -> None:
    assert set(FULL) == set(ConversationState.model_fields)
    assert set(TASK) == set(TaskDraft.model_fields)
    state = ConversationState.model_validate(FULL)
    assert state.dump() == FULL
    assert ConversationState.model_validate(state.dump()) == state


def test_fields_are_typed_when_loaded() -> None:
    state = ConversationState.model_validate(FULL)
    assert state.mode is Mode.TASK_REMARK and state.return_mode is Mode.TASK
    assert state.task is not None
    assert state.task.sev is Severity.SERIOUS
    assert state.task.due == date(2025, 3, 10) and state.task.offer == date(2025, 3, 12)
    assert state.ext_due == date(2025, 3, 20) and state.ext_offer == date(2025, 3, 21)
    assert state.sample == Sample(no=12, p=3, f=1, order=["p", "f", "p", "p"])
    assert state.figures == Figures(no=12, values={"达标率": 95.0, "覆盖率": 80.5})


def test_a_fresh_state_is_idle_and_unset_fields_are_not_stored() -> None:
    assert ConversationState().dump() == {
        "mode": "idle",
        "screen": 0,
        "rules": False,
        "appeal_photos": 0,
    }


@pytest.mark.parametrize(
    "row",
    [
        pytest.param({}, id="welcome"),
        pytest.param({"mode": "idle", "screen": 3}, id="idle"),
        pytest.param(
            {
                "screen": 12,
                "mode": "task",
                "insp": 3,
                "no": 7,
                "rules": True,
                "last_resp": 4,
                "date_example": 3,
                "task": {
                    "key": "3:7",
                    "score": 0.0,
                    "label": "不符合",
                    "sev": "general",
                    "resp": None,
                    "due": "2025-03-08",
                    "due_chosen": False,
                    "remark": None,
                    "ref": "t3.7.12",
                    "date_example": True,
                },
            },
            id="task-set-up",
        ),
        pytest.param(
            {"mode": "sample", "insp": 3, "no": 5, "sample": {"no": 5, "p": 0, "f": 0}},
            id="sample-started",
        ),
        pytest.param(
            {"mode": "figure", "insp": 3, "no": 5, "metric": 0, "figures": {"no": 5}},
            id="figures-started",
        ),
        pytest.param(
            {"mode": "note", "return_mode": "item", "insp": 3, "no": 5, "item_ref": "i3.5.9"},
            id="note",
        ),
        pytest.param(
            {"mode": "submit", "insp": 3, "submit_ref": "s3.20", "screen": 20}, id="submit"
        ),
        pytest.param({"mode": "choose_plan", "site": 1, "std": "culture"}, id="plan"),
        pytest.param(
            {"mode": "ext_reason", "task_id": 3, "ext_due": "2025-03-20", "screen": 9},
            id="extension",
        ),
        pytest.param(
            {"mode": "reject_reason", "task_id": 3, "task_version": 2, "screen": 9},
            id="rejection",
        ),
        pytest.param(
            {"mode": "appeal_reason", "appeal_insp": 1, "appeal_item": 7, "appeal_photos": 0},
            id="appeal",
        ),
        pytest.param(
            {"mode": "appeal_decision", "appeal_id": 2, "decision": "withdrawn", "level": 2},
            id="appeal-decision",
        ),
    ],
)
def test_rows_the_running_version_stored_load_unchanged(row: dict[str, Any]) -> None:
    state = ConversationState.model_validate(row)
    stored = state.dump()
    _assert_carried(row, stored)
    assert ConversationState.model_validate(stored) == state


def _assert_carried(row: dict[str, Any], stored: dict[str, Any]) -> None:
    """Every value the row set is stored again under its key (nulls are left out now)."""
    for key, value in row.items():
        if isinstance(value, dict):
            _assert_carried(value, stored[key])
        elif value is not None:
            assert stored[key] == value, key


def test_an_old_rows_task_set_up_reads_as_a_draft() -> None:
    state = ConversationState.model_validate(
        {"mode": "task", "task": {**TASK, "remark": None, "resp": None, "offer": None}}
    )
    assert state.task == TaskDraft(
        key="7:12",
        score=0.5,
        label="部分符合",
        sev=Severity.SERIOUS,
        due=date(2025, 3, 10),
        due_chosen=True,
        ref="t7.12.41",
        date_example=True,
    )


def test_keys_no_longer_known_are_dropped() -> None:
    """`summaries` was kept in the state before migration 0004 moved it to a table."""
    state = ConversationState.model_validate({"mode": "item", "summaries": {"3:A": True}})
    assert state.mode is Mode.ITEM
    assert "summaries" not in state.dump()


@pytest.mark.parametrize(
    "row",
    [
        {"mode": "dancing", "screen": 4},
        {"screen": "four"},
        {"mode": "task", "task": {"key": "1:1", "score": 1.0}},
        {"mode": "task", "task": {**TASK, "sev": "catastrophic"}},
        {"mode": "sample", "sample": {"no": 1, "order": ["x"]}},
        {"mode": "figure", "figures": {"no": 1, "达标率": "high"}},
        {"mode": "ext_reason", "ext_due": "next week"},
        ["mode", "item"],
    ],
)
def test_rows_that_do_not_validate_are_refused(row: object) -> None:
    with pytest.raises(ValidationError):
        ConversationState.model_validate(row)


@pytest.mark.parametrize(
    ("row", "screen"),
    [
        ({"mode": "dancing", "screen": 4, "insp": 3}, 4),
        ({"screen": "four"}, 0),
        ({"screen": -2}, 0),
        ({"screen": True}, 0),
        (["mode", "item"], 0),
        (None, 0),
    ],
)
def test_a_restart_is_idle_and_keeps_a_readable_screen(row: object, screen: int) -> None:
    assert ConversationState.restart(row) == ConversationState(screen=screen)


def test_figures_are_stored_flat_by_metric_name() -> None:
    figures = Figures(no=3)
    figures.values["达标率"] = 95.0
    assert ConversationState(figures=figures).dump()["figures"] == {"no": 3, "达标率": 95.0}


def test_samples_count_in_order_and_undo_the_last() -> None:
    sample = Sample(no=1)
    sample.add("p")
    sample.add("f")
    sample.add("f")
    assert (sample.p, sample.f, sample.order) == (1, 2, ["p", "f", "f"])
    sample.undo()
    assert (sample.p, sample.f, sample.order) == (1, 1, ["p", "f"])
    sample.undo()
    sample.undo()
    sample.undo()
    assert (sample.p, sample.f, sample.order) == (0, 0, [])


def test_a_new_screen_counts_on() -> None:
    state = ConversationState(screen=4)
    assert state.next_screen() == 5
    assert state.screen == 5


def test_a_note_goes_back_to_the_step_it_was_asked_from() -> None:
    state = ConversationState(mode=Mode.TASK)
    state.ask_note()
    state.ask_note()
    assert (state.mode, state.return_mode) == (Mode.NOTE, Mode.TASK)
    state.note_saved()
    assert (state.mode, state.return_mode) == (Mode.TASK, None)
    state.mode = Mode.NOTE
    state.note_saved()
    assert state.mode is Mode.ITEM


def _in_everything() -> ConversationState:
    return ConversationState.model_validate(FULL)


def _cleared(after: ConversationState) -> set[str]:
    """The keys a method left out of the stored row."""
    return set(FULL) - set(after.dump())


def test_leaving_an_item_drops_its_work_only() -> None:
    state = _in_everything()
    state.leave_item()
    assert _cleared(state) == {"task", "sample", "figures", "return_mode"}
    assert state.mode is Mode.TASK_REMARK


def test_answering_forgets_the_items_samples_and_figures() -> None:
    state = _in_everything()
    state.clear_measures()
    assert _cleared(state) == {"sample", "figures"}


def test_pausing_leaves_the_inspection_but_not_the_cards_ref() -> None:
    state = _in_everything()
    state.pause_inspection()
    assert _cleared(state) == {"insp", "no", "task", "sample", "figures"}
    assert state.mode is Mode.IDLE and state.item_ref == "i7.12.40"


def test_submitting_leaves_nothing_of_the_inspection_open() -> None:
    state = _in_everything()
    state.end_inspection()
    assert _cleared(state) == {"insp", "no", "task", "sample", "figures", "item_ref"}
    assert state.mode is Mode.IDLE


def test_leaving_a_task_step() -> None:
    state = _in_everything()
    state.leave_task_step()
    assert _cleared(state) == {"task_id", "task_version", "ext_due", "ext_offer"}
    assert state.mode is Mode.IDLE


def test_leaving_an_appeal() -> None:
    state = _in_everything()
    state.leave_appeal()
    assert _cleared(state) == {"appeal_insp", "appeal_item"}
    assert state.appeal_photos == 0 and state.mode is Mode.IDLE


def test_leaving_an_appeal_decision() -> None:
    state = _in_everything()
    state.leave_appeal_decision()
    assert _cleared(state) == {"appeal_id", "decision", "level"}
    assert state.mode is Mode.IDLE


def test_working_on_an_item() -> None:
    state = ConversationState()
    state.at_item(Mode.FIGURE, 3, 5)
    assert (state.mode, state.insp, state.no) == (Mode.FIGURE, 3, 5)
