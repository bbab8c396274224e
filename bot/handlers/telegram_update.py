"""Reading a Bot API ``Update`` (JSON) as python-telegram-bot's ``telegram.Update``
(``Update.de_json``), then taking the fields the adapter acts on, each checked for its type:
PTB builds the objects without checking what the JSON holds, and an update the bot cannot act
on safely is refused here rather than deep in a flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import Bot, Message, Update, User


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
    """A group chat's title (a private chat has none)."""

    @property
    def key(self) -> str:
        """The event key (idempotency and the inbox)."""
        return update_key(self.update_id)


def update_key(update_id: int) -> str:
    return f"u{update_id}"


def parse(data: Any, bot: Bot | None = None) -> TelegramUpdate:
    """Read an update; raises Unreadable when it is not one the bot can act on safely."""
    if not isinstance(data, dict):
        raise Unreadable(f"object expected, got {type(data).__name__}")
    try:
        update = Update.de_json(_lean(data), bot)
        return _read(update)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise Unreadable(f"{exc.__class__.__name__}: {exc}") from None


PRESSED_MESSAGE_READ = ("message_id", "date", "chat")
"""What PTB needs of a pressed button's message to build it; the adapter reads only its chat."""


def _lean(data: dict[str, Any]) -> dict[str, Any]:
    """The update without the rest of a pressed button's message (the bot's own text, entities
    and keyboard), which PTB would build objects of only to be thrown away: about half of a
    press's reading (for the N = 50 capacity goal, docs/BENCHMARKS.md). `data` is unchanged."""
    query = data.get("callback_query")
    message = query.get("message") if isinstance(query, dict) else None
    if not isinstance(query, dict) or not isinstance(message, dict):
        return data
    kept = {key: message[key] for key in PRESSED_MESSAGE_READ if key in message}
    return {**data, "callback_query": {**query, "message": kept}}


def _read(update: Update) -> TelegramUpdate:
    update_id = _int(update.update_id)
    query = update.callback_query
    if query is not None:
        user = _user(query.from_user)
        chat = query.message.chat if query.message is not None else None
        return TelegramUpdate(
            update_id=update_id,
            chat_id=_int(chat.id) if chat is not None else _int(user.id),
            private=chat is None or chat.type == "private",
            user_id=_int(user.id),
            display_name=_str(user.full_name),
            callback_id=_str(query.id),
            callback_data=_str(query.data or ""),
        )
    message = update.message
    if message is None:
        return TelegramUpdate(update_id=update_id, chat_id=0, private=False)
    chat = message.chat
    sender = _user(message.from_user) if message.from_user is not None else None
    return TelegramUpdate(
        update_id=update_id,
        chat_id=_int(chat.id),
        private=chat.type == "private",
        user_id=_int(sender.id) if sender is not None else None,
        display_name=_str(sender.full_name) if sender is not None else "",
        text=_str(message.text) if message.text is not None else None,
        caption=_str(message.caption or ""),
        file=_file(message),
        chat_title=_str(chat.title or ""),
    )


def _user(user: User | None) -> User:
    if user is None:
        raise TypeError("the sender is missing")
    _str(user.first_name)
    return user


def _file(message: Message) -> TelegramFile | None:
    if message.photo:
        largest = message.photo[-1]
        size = _int(largest.file_size or 0)
        return TelegramFile(_str(largest.file_id), size, "image/jpeg", None, photo=True)
    document = message.document
    if document:
        mime = _str(document.mime_type or "application/octet-stream")
        name = document.file_name
        return TelegramFile(
            _str(document.file_id),
            _int(document.file_size or 0),
            mime,
            _str(name) if name is not None else None,
            photo=False,
        )
    return None


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"integer expected, got {type(value).__name__}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"string expected, got {type(value).__name__}")
    return value
