"""Channel-neutral incoming events: what a channel adapter hands to the flows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Channel(StrEnum):
    TELEGRAM = "telegram"
    WECOM = "wecom"
    WEB = "web"
    WECOM_GROUP = "wecom_group"
    """Posts to WeCom group robots (webhooks); the chat id is `g<chat_groups.id>`."""


class EventKind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    BUTTON = "button"
    PHOTO = "photo"
    DOCUMENT = "document"
    OTHER = "other"


@dataclass(frozen=True)
class StoredFile:
    """A file the adapter already downloaded into the evidence store, or refused: too big
    (`too_large`) or an image declaring more pixels than bot.core.pixels allows
    (`too_many_pixels`); a refused file has no sha256 and nothing of it is kept."""

    sha256: str | None
    size: int
    mime: str
    channel_ref: str
    file_name: str | None = None
    too_large: bool = False
    too_many_pixels: bool = False
    taken_at: datetime | None = None
    """The camera's capture time (EXIF, no zone), when the file carries one."""
    phash: str | None = None
    """The perceptual hash (bot.core.pixels.perceptual_hash)."""
    position: tuple[float, float] | None = None
    """Where it was taken (EXIF GPS latitude, longitude), when the file carries it."""

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")


@dataclass(frozen=True)
class Incoming:
    """One update from a chat, already translated by its adapter.

    `key` is the idempotency key (Telegram update_id, WeCom MsgId, web message id): a
    redelivered event carries the same key and is ignored.
    """

    channel: Channel
    user_id: str
    chat_id: str
    key: str
    kind: EventKind
    display_name: str = ""
    text: str = ""
    command: str = ""
    args: str = ""
    payload: str = ""
    callback_id: str = ""
    file: StoredFile | None = None

    @property
    def event_key(self) -> str:
        """The key the event is recorded under once handled (unique across channels)."""
        return f"{self.channel.value}:{self.key}"
