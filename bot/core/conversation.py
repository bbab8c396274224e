"""What a conversation remembers between events: its mode, the current screen and the step's
choices. Stored as JSON in the `conversations` table; the field names are the JSON keys rows
have always carried, so stored rows load unchanged. Keys no longer known (an older version's
`summaries`) are dropped; a row that does not validate is restarted (`restart`)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from bot.core.task_types import Severity

JsonDict = dict[str, Any]
Outcome = Literal["p", "f"]


class Mode(StrEnum):
    """Which step the conversation is in: what typed text, a photo or a button means there.
    The values are stored in rows, so they never change."""

    IDLE = "idle"
    CHOOSE_SITE = "choose_site"
    CHOOSE_STANDARD = "choose_standard"
    CHOOSE_PLAN = "choose_plan"
    RESUME = "resume"
    ITEM = "item"
    NOTE = "note"
    SAMPLE = "sample"
    FIGURE = "figure"
    TASK = "task"
    TASK_REMARK = "task_remark"
    TOC = "toc"
    SUBMIT = "submit"
    FIX = "fix"
    REJECT_REASON = "reject_reason"
    EXT_DATE = "ext_date"
    EXT_REASON = "ext_reason"
    APPEAL_REASON = "appeal_reason"
    APPEAL_DECISION = "appeal_decision"


class _Stored(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TaskDraft(_Stored):
    """The rectification task being set up for an item that lost points."""

    key: str
    """`<inspection>:<item>`: the set-up these choices belong to."""
    score: float
    label: str
    sev: Severity
    resp: int | None = None
    due: date
    due_chosen: bool = False
    """The inspector chose the 达标时间, so a severity chosen later no longer moves it."""
    remark: str | None = None
    ref: str
    """The set-up message, edited in place."""
    date_example: bool = False
    """Show how to type a date (on the inspection's first set-up only)."""
    offer: date | None = None
    """The date proposed for a typed one that could not be taken."""


class Sample(_Stored):
    """The samples counted for an item (抽样记录), in the order taken, so the last can be undone."""

    no: int
    p: int = 0
    f: int = 0
    order: list[Outcome] = Field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        if outcome == "p":
            self.p += 1
        else:
            self.f += 1
        self.order.append(outcome)

    def undo(self) -> None:
        if not self.order:
            return
        if self.order.pop() == "p":
            self.p -= 1
        else:
            self.f -= 1


class Figures(_Stored):
    """The figures entered for an item, by metric name. Stored flat, as always:
    `{"no": 12, "达标率": 95.0}`."""

    no: int
    values: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_flat(cls, data: Any) -> Any:
        if isinstance(data, dict) and not isinstance(data.get("values"), dict):
            return {"no": data.get("no"), "values": {k: v for k, v in data.items() if k != "no"}}
        return data

    @model_serializer
    def _to_flat(self) -> JsonDict:
        return {"no": self.no, **self.values}


class ConversationState(_Stored):
    """One person's conversation in one chat."""

    mode: Mode = Mode.IDLE
    screen: int = 0
    """Counts the screens shown; buttons carry the screen they were shown on, so a new screen
    makes every earlier one stale."""
    insp: int | None = None
    no: int | None = None
    """The inspection and the item open in it (or being set up as a task)."""
    item_ref: str | None = None
    """The open item's message, turned into its one-line record when it closes."""
    return_mode: Mode | None = None
    """The mode a note goes back to once typed."""
    rules: bool = False
    """Item cards show the 评分细则 (the person's choice, kept from item to item)."""
    sample: Sample | None = None
    figures: Figures | None = None
    metric: int | None = None
    """The index of the figure asked for next."""
    task: TaskDraft | None = None
    last_resp: int | None = None
    """The 责任人 chosen last, proposed for the next task."""
    date_example: int | None = None
    """The inspection whose task set-up has shown how to type a date."""
    submit_ref: str | None = None
    site: int | None = None
    std: str | None = None
    """The site (and standard) an inspection is being started at."""
    task_id: int | None = None
    task_version: int | None = None
    """The task a fix, rejection or extension step is about (the version that was rejected)."""
    ext_due: date | None = None
    ext_offer: date | None = None
    appeal_insp: int | None = None
    appeal_item: int | None = None
    appeal_photos: int = 0
    appeal_id: int | None = None
    decision: str | None = None
    """The `AppealDecision` value whose reason is asked for."""
    level: int | None = None

    @classmethod
    def restart(cls, stored: object) -> ConversationState:
        """A fresh idle state for a stored one that does not validate. Its screen counter is
        kept when it can be read, so the buttons shown before stay stale."""
        screen = stored.get("screen") if isinstance(stored, dict) else None
        valid = isinstance(screen, int) and not isinstance(screen, bool) and screen >= 0
        return cls(screen=screen if valid else 0)

    def dump(self) -> JsonDict:
        """The JSON stored for this state (unset fields left out)."""
        return self.model_dump(mode="json", exclude_none=True)

    def next_screen(self) -> int:
        self.screen += 1
        return self.screen

    def at_item(self, mode: Mode, inspection_id: int, item_no: int) -> None:
        """Work on an item of an inspection, in `mode`."""
        self.mode, self.insp, self.no = mode, inspection_id, item_no

    def ask_note(self) -> None:
        """Typed text is the open item's note now; afterwards the step asked from goes on."""
        if self.mode is not Mode.NOTE:
            self.return_mode = self.mode
        self.mode = Mode.NOTE

    def note_saved(self) -> None:
        self.mode = self.return_mode or Mode.ITEM
        self.return_mode = None

    def clear_measures(self) -> None:
        """Forget the samples and figures of the item just answered."""
        self.sample = self.figures = None

    def leave_item(self) -> None:
        """Drop the work on the open item (its set-up, samples, figures, a note asked for)."""
        self.task = self.return_mode = None
        self.clear_measures()

    def pause_inspection(self) -> None:
        self.mode = Mode.IDLE
        self.insp = self.no = self.task = None
        self.clear_measures()

    def end_inspection(self) -> None:
        """The inspection was submitted: nothing of it stays open."""
        self.pause_inspection()
        self.item_ref = None

    def leave_task_step(self) -> None:
        """End a fix, rejection or extension step."""
        self.mode = Mode.IDLE
        self.task_id = self.task_version = self.ext_due = self.ext_offer = None

    def leave_appeal(self) -> None:
        self.mode = Mode.IDLE
        self.appeal_insp = self.appeal_item = None
        self.appeal_photos = 0

    def leave_appeal_decision(self) -> None:
        self.mode = Mode.IDLE
        self.appeal_id = self.decision = self.level = None
