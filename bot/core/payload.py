"""Button payloads: short, checked strings that fit Telegram's 64-byte callback_data.

A payload never grants anything by itself: the flow that receives it checks the person, their
role and the current state before acting, so a forged or stale payload changes nothing.
"""

from __future__ import annotations

import re

from bot.core.actions import Action

MAX_BYTES = 64
_PART = re.compile(r"^[A-Za-z0-9_.+-]{1,24}$")


class PayloadError(ValueError):
    """Not a payload this bot made."""


def encode(action: Action, *args: str | int) -> str:
    """`action` first (bot.core.actions names them all), then what it acts on."""
    parts = (action, *args)
    text = ":".join(str(p) for p in parts)
    if len(text.encode("utf-8")) > MAX_BYTES or not all(_PART.match(str(p)) for p in parts):
        raise PayloadError(f"payload does not fit: {text!r}")
    return text


def decode(payload: str) -> list[str]:
    if not payload or len(payload.encode("utf-8")) > MAX_BYTES:
        raise PayloadError("bad size")
    parts = payload.split(":")
    if not all(_PART.match(p) for p in parts):
        raise PayloadError("bad part")
    return parts


def as_int(part: str) -> int:
    if not part.isdigit() or len(part) > 12:
        raise PayloadError("not a number")
    return int(part)
