"""Every button action by name: the first part of a payload (`Action`) and, for the buttons
that name what they act on instead of a screen, the part after it (`TaskAction`,
`ConfirmAction`, `QueuedAction`), and the step of a sample (`SampleAction`).

The values are the codes on the wire. They never change: buttons already sitting in people's
chats and in the outbox must keep working (the web page, bot/static/chat.js, knows some of
them too). A code means one thing within its namespace; the same letters may mean another
thing in another namespace (`F` is 录入数据 as an `Action`, 已整改 as a `TaskAction`).
"""

from __future__ import annotations

from enum import StrEnum, unique
from typing import TypeVar


@unique
class Action(StrEnum):
    """The first part of every payload."""

    # Buttons that name what they act on (no screen stamp follows).
    TASK = "K"  # a rectification task's button; a TaskAction follows
    CONFIRMATION = "A"  # 项目确认 and appeal buttons; a ConfirmAction follows
    QUEUED = "Q"  # what the web page queued offline; inspection, item, a QueuedAction follow
    PLAN_START = "O"  # [开始检查] under a plan occurrence's notice
    # Buttons stamped with the screen that showed them; a press from an older screen is stale.
    SITE = "S"  # the site to inspect
    STANDARD = "T"  # the standard to inspect against
    RESUME = "R"  # take up an unfinished inspection again
    NEW_INSPECTION = "NEW"  # start a new inspection instead of resuming one
    REPORT_SITE = "RP"  # the site whose last report a manager asked for
    PLAN_CHOICE = "PL"  # the plan occurrence an inspection counts for (0: none)
    CONTENTS = "C"  # the inspection's table of contents
    CONTENTS_SECTION = "CS"  # one section of the table of contents
    JUMP = "J"  # go to an item from the table of contents
    PAUSE = "PA"  # pause the inspection
    SUBMIT = "SUB"  # submit the finished inspection
    LEVEL = "L"  # answer the item with one of its levels
    NOT_APPLICABLE = "NA"  # answer the item 不适用
    PHOTO = "P"  # attach a photo to the item
    NOTE = "M"  # add a note to the item
    PREVIOUS = "V"  # go back to the previous item
    SAMPLE = "X"  # open the item's sample record (抽样记录)
    SAMPLE_STEP = "XS"  # one step in the sample record; a SampleAction follows
    FIGURES = "F"  # enter the item's measured figures (录入数据)
    RULES = "RU"  # show or hide the item's scoring rule (评分细则)
    TASK_RESPONSIBLE = "TR"  # the 责任人 of the task being set up
    TASK_SEVERITY = "TS"  # the severity of the task being set up
    TASK_DAYS = "TD"  # the 达标时间 of the task being set up, in days from today
    TASK_REMARK = "TM"  # add a 备注 to the task being set up
    TASK_CONFIRM = "TOK"  # create the task being set up (确认创建)


@unique
class TaskAction(StrEnum):
    """What a task button (`K:ACTION:TASK:VERSION[:ARG]`) does."""

    DETAILS = "D"  # show the task's details (查看详情)
    START_FIX = "F"  # the 责任人 starts the fix (已整改，上传照片)
    SUBMIT_FIX = "FS"  # send the fix for verification (提交复查)
    APPROVE = "OK"  # the fix passes verification (通过)
    REJECT = "RJ"  # the fix is sent back (退回); a reason is asked
    EXTENSION = "E"  # ask for a later 达标时间 (申请延期)
    EXTENSION_DAYS = "ED"  # the days the extension asks for
    APPROVE_EXTENSION = "EA"  # grant an extension request (批准)
    REJECT_EXTENSION = "ER"  # refuse an extension request (驳回)


@unique
class ConfirmAction(StrEnum):
    """What a 项目确认 or appeal button (`A:ACTION:…`) does."""

    CONFIRM_ALL = "OK"  # the site confirms the whole result (全部确认)
    APPEAL = "AP"  # the site appeals one finding (申诉)
    UPHOLD = "UP"  # the appeal is decided: the answer stands (维持)
    CHANGE = "CH"  # the appeal is decided: choose the new level (改判)
    CHANGE_TO = "CL"  # the level the answer is changed to
    WITHDRAW = "WD"  # the appeal is decided: the finding is withdrawn, full marks (撤销)


@unique
class QueuedAction(StrEnum):
    """What an action the web page queued offline (`Q:INSPECTION:ITEM:ACTION…`) does."""

    LEVEL = "L"  # answer with a level
    NOT_APPLICABLE = "NA"  # answer 不适用
    OPEN = "O"  # make the item the open one (a queued photo follows)
    NOTE = "M"  # open the item and ask for a note (the queued text follows)


@unique
class SampleAction(StrEnum):
    """One step in an item's sample record (`XS:…:STEP`)."""

    PASS = "p"  # one more sample passed
    FAIL = "f"  # one more sample failed
    UNDO = "u"  # take back the last sample
    DONE = "d"  # back to the item


Code = TypeVar("Code", bound=StrEnum)


def find(kind: type[Code], part: str) -> Code | None:
    """The member of `kind` a payload part names; None for a code it does not know (a forged
    button, or one from a version of the bot that is gone)."""
    try:
        return kind(part)
    except ValueError:
        return None
