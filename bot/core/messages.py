"""Channel-neutral outgoing messages: what the flows ask the adapters to show.

Text is a small HTML subset (<b>, <i>, <code>) with every user-supplied value escaped, which
Telegram renders directly, the web chat shows as HTML and WeCom turns into markdown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class OutboxKind(StrEnum):
    SEND = "send"
    EDIT = "edit"
    ANSWER_CALLBACK = "answer_callback"
    SEND_PHOTO = "send_photo"
    SEND_DOCUMENT = "send_document"


@dataclass(frozen=True)
class Button:
    text: str
    payload: str


@dataclass(frozen=True)
class Outgoing:
    """A message for one chat.

    `ref` names this message so that a later `edit` with `edit_ref` can replace it in place;
    channels that cannot edit send the edit as a new message.
    """

    kind: OutboxKind
    text: str = ""
    buttons: tuple[tuple[Button, ...], ...] = ()
    ref: str | None = None
    edit_ref: str | None = None
    photos: tuple[str, ...] = ()
    document: str | None = None
    document_name: str | None = None
    callback_id: str | None = None
    alert: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "buttons": [[[b.text, b.payload] for b in row] for row in self.buttons],
            "photos": list(self.photos),
            "document": self.document,
            "document_name": self.document_name,
            "callback_id": self.callback_id,
            "alert": self.alert,
            **({"extra": self.extra} if self.extra else {}),
        }
