"""A task's 问题 (finding): the item's notes joined, cut to a length a card can show.

An item may carry any number of notes of up to 1,000 characters each; joined in full they made
task cards (问题：…) longer than a chat message. The notes themselves stay as they were typed
(the report's 备注 column shows them all); only the task's summary of them is cut.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.texts import plain

MAX_FINDING = 1000
ELLIPSIS = "…"


def finding(notes: Sequence[str], fallback: str) -> str:
    """The notes joined (or `fallback` when there are none), at most MAX_FINDING characters."""
    text = plain("common", "semicolons", items=notes) or fallback
    if len(text) <= MAX_FINDING:
        return text
    return text[: MAX_FINDING - len(ELLIPSIS)].rstrip() + ELLIPSIS
