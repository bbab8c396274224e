"""Reading a Bot API ``Update`` (JSON) for the fields the bot uses.

python-telegram-bot's ``Update.de_json`` builds the whole object graph of an update; for a
button press that includes the pressed message with its text, entities and keyboard, the
largest cost of a tap before the flows (docs/BENCHMARKS.md). The adapter needs a
dozen fields, read here straight from the JSON. python-telegram-bot still makes every Bot API
call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Unreadable(ValueError):
    """The update lacks a field the bot relies on, or has one of the wrong type."""


@dataclass(frozen=True, slots=True)
class TelegramFile:
    """A photo (its largest size) or a document attached to a message."""

    file_id: str
    size: int
    mime: str
    name: str | None
    photo: bool


@dataclass(frozen=True, slots=True)
class TelegramUpdate:
    """What the adapter reads of one update. `chat_id` is where its answers go (a button's
    message chat, else the presser's own chat); `user_id` is None for an update without a
    sender (a channel post, an update type the bot does not ask for)."""

    update_id: int
    chat_id: int
    private: bool
    user_id: int | None = None
    display_name: str = ""
    callback_id: str | None = None
    callback_data: str = ""
    text: str | None = None
    caption: str = ""
    file: TelegramFile | None = None
    chat_title: str = ""
    """A group chat's title."""

    @property
    def key(self) -> str:
        """The event key (idempotency and the inbox)."""
        return update_key(self.update_id)


def update_key(update_id: int) -> str:
    return f"u{update_id}"


def parse(data: Any) -> TelegramUpdate:
    """Read an update; raises Unreadable when it is not one the bot can act on safely."""
    try:
        return _parse(data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise Unreadable(f"{exc.__class__.__name__}: {exc}") from None


def _parse(data: dict[str, Any]) -> TelegramUpdate:
    update_id = _int(data["update_id"])
    query = data.get("callback_query")
    if query is not None:
        user = query["from"]
        message = query.get("message")
        chat = message["chat"] if message is not None else None
        return TelegramUpdate(
            update_id=update_id,
            chat_id=_int(chat["id"]) if chat is not None else _int(user["id"]),
            private=chat is None or chat["type"] == "private",
            user_id=_int(user["id"]),
            display_name=_full_name(user),
            callback_id=_str(query["id"]),
            callback_data=_str(query.get("data") or ""),
        )
    message = data.get("message")
    if message is None:
        return TelegramUpdate(update_id=update_id, chat_id=0, private=False)
    chat = message["chat"]
    user = message.get("from")
    text = message.get("text")
    return TelegramUpdate(
        update_id=update_id,
        chat_id=_int(chat["id"]),
        private=chat["type"] == "private",
        user_id=_int(user["id"]) if user is not None else None,
        display_name=_full_name(user) if user is not None else "",
        text=_str(text) if text is not None else None,
        caption=_str(message.get("caption") or ""),
        file=_file(message),
        chat_title=_str(chat.get("title") or ""),
    )


def _file(message: dict[str, Any]) -> TelegramFile | None:
    photo = message.get("photo")
    if photo:
        largest = photo[-1]
        size = _int(largest.get("file_size") or 0)
        return TelegramFile(_str(largest["file_id"]), size, "image/jpeg", None, photo=True)
    document = message.get("document")
    if document:
        mime = _str(document.get("mime_type") or "application/octet-stream")
        name = document.get("file_name")
        return TelegramFile(
            _str(document["file_id"]),
            _int(document.get("file_size") or 0),
            mime,
            _str(name) if name is not None else None,
            photo=False,
        )
    return None


def _full_name(user: dict[str, Any]) -> str:
    """As python-telegram-bot's ``User.full_name``: first name, then the last name if any."""
    first = _str(user["first_name"])
    last = user.get("last_name")
    return f"{first} {_str(last)}" if last else first


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"integer expected, got {type(value).__name__}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"string expected, got {type(value).__name__}")
    return value
