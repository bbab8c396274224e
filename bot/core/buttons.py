"""Buttons labelled from templates: every label is a macro of labels/buttons.j2."""

from __future__ import annotations

from bot.core.messages import Button
from bot.core.texts import label


def button(key: str, code: str, /, **values: object) -> Button:
    """The button with the label `key` (given `values`) that sends `code` when pressed."""
    return Button(label("buttons", key, **values), code)
