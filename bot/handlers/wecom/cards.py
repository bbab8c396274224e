"""Keeping track of the cards the bot sent, so that later edits can replace them in place.

A card is replaced with ``update_template_card`` and a ``response_code``: WeCom returns one
when the card is sent and one with every button press, each valid once and for 72 hours.

* The channel message id of a sent message says what it was: ``card:<task ids>`` for cards
  (each task id may carry its send-time response code as ``task_id=code``, so that a restart
  keeps one usable code per card), ``num:<msgid>`` for numbered options, ``msg:<msgid>`` for
  anything else. The outbox stores it and hands it back as ``Delivery.target_message_id``.
* :class:`CardBook` keeps, in memory, the unused codes per card (newest first), a digest of
  what each card shows (an update that changes nothing is skipped and keeps its code), and
  which message replaced a card when an edit had to be sent as a new message.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CARD = "card:"
NUMBERED = "num:"
MESSAGE = "msg:"
MAX_ID_CHARS = 128  # the outbox's channel_message_id column
CODE_TTL_SECONDS = 72 * 3600 - 600  # WeCom's 72 hours, less a margin


@dataclass(frozen=True)
class SentCards:
    """The cards one outbox message became, with their send-time response codes."""

    task_ids: tuple[str, ...]
    codes: tuple[str | None, ...]

    def encode(self) -> str:
        with_codes = CARD + ",".join(
            f"{task_id}={code}" if code else task_id
            for task_id, code in zip(self.task_ids, self.codes, strict=True)
        )
        if len(with_codes) <= MAX_ID_CHARS:
            return with_codes
        return CARD + ",".join(self.task_ids)

    @classmethod
    def parse(cls, value: str | None) -> SentCards | None:
        if not value or not value.startswith(CARD):
            return None
        task_ids: list[str] = []
        codes: list[str | None] = []
        for part in value[len(CARD) :].split(","):
            task_id, _, code = part.partition("=")
            if task_id:
                task_ids.append(task_id)
                codes.append(code or None)
        return cls(tuple(task_ids), tuple(codes)) if task_ids else None


def digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class CardBook:
    """In-memory card state, bounded (least recently touched entries go first)."""

    def __init__(self, *, clock: Callable[[], float] = time.time, capacity: int = 20_000) -> None:
        self._clock = clock
        self._capacity = capacity
        self._codes: OrderedDict[str, list[tuple[str, float]]] = OrderedDict()
        self._used: OrderedDict[str, None] = OrderedDict()
        self._shown: OrderedDict[str, str] = OrderedDict()
        self._replaced: OrderedDict[str, str] = OrderedDict()

    def _bounded(self, table: OrderedDict[str, Any], key: str, value: Any) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self._capacity:
            table.popitem(last=False)

    def add_code(self, task_id: str, code: str) -> None:
        if code in self._used:
            return
        codes = [c for c in self._codes.get(task_id, []) if c[0] != code]
        self._bounded(self._codes, task_id, [*codes, (code, self._clock())])

    def codes(self, sent: SentCards, index: int) -> list[str]:
        """Codes to try for card ``index`` of ``sent``: newest first, unused, unexpired."""
        task_id = sent.task_ids[index]
        horizon = self._clock() - CODE_TTL_SECONDS
        known = [code for code, at in reversed(self._codes.get(task_id, [])) if at > horizon]
        stored = sent.codes[index]
        if stored and stored not in known:
            known.append(stored)
        return [code for code in known if code not in self._used]

    def use(self, task_id: str, code: str) -> None:
        """The code was spent (or refused): never offer it again."""
        self._bounded(self._used, code, None)
        remaining = [c for c in self._codes.get(task_id, []) if c[0] != code]
        if remaining:
            self._codes[task_id] = remaining
        else:
            self._codes.pop(task_id, None)

    def shows(self, task_id: str, body: dict[str, Any]) -> bool:
        """Whether the card is known to show exactly ``body`` already."""
        return self._shown.get(task_id) == digest(body)

    def showing(self, task_id: str, body: dict[str, Any]) -> None:
        self._bounded(self._shown, task_id, digest(body))

    def replace(self, old: str, new: str) -> None:
        """An edit of message ``old`` went out as the new message ``new``."""
        self._bounded(self._replaced, old, new)

    def current(self, message_id: str) -> str:
        """The message that now stands for ``message_id`` (following replacements)."""
        seen = {message_id}
        while (newer := self._replaced.get(message_id)) is not None and newer not in seen:
            seen.add(newer)
            message_id = newer
        return message_id
