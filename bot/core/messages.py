"""Channel-neutral outgoing messages: what the flows ask the adapters to show.

Text is a small HTML subset (<b>, <i>, <code>) with every user-supplied value escaped, which
Telegram renders directly, the web chat shows as HTML and WeCom turns into markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
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
class Stamped:
    """An evidence photo shown to someone with its watermark band (项目 · 第 N 项 · time · who):
    the outbox worker sends the stamped rendition, never the stored original."""

    sha256: str
    band: str


Photo = str | Stamped
"""An evidence photo to send: its sha256 (sent as stored) or Stamped."""


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
    bands: tuple[str, ...] = ()
    """One watermark band per photo ("" for none); the rendition is made on the way out."""
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
            **({"bands": list(self.bands)} if any(self.bands) else {}),
            "document": self.document,
            "document_name": self.document_name,
            "callback_id": self.callback_id,
            "alert": self.alert,
            **({"extra": self.extra} if self.extra else {}),
        }


def album(caption: str, photos: Sequence[Photo]) -> Outgoing:
    """The photos as one album with its caption; stamped ones carry their bands."""
    return Outgoing(
        kind=OutboxKind.SEND_PHOTO,
        text=caption,
        photos=tuple(p.sha256 if isinstance(p, Stamped) else p for p in photos),
        bands=tuple(p.band if isinstance(p, Stamped) else "" for p in photos),
    )
