"""Chats, users and messages of the fake Telegram server, and the Bot API methods on them.

:class:`ChatStore` implements sendMessage, sendPhoto, sendDocument, sendMediaGroup,
sendChatAction, editMessageText/Caption/ReplyMarkup, deleteMessage, answerCallbackQuery and
getFile on plain dicts of parameters; :mod:`tests.fakes.telegram_api` does the HTTP around it.
Every message keeps its current state plus the versions it had before each edit.
:class:`FakeUser` is how a test talks to the bot as a person would.
"""

from __future__ import annotations

import itertools
import mimetypes
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakes.telegram_limits import (
    CHAT_ACTIONS,
    COMMAND_RE,
    MAX_ANSWER_TEXT,
    MAX_DOWNLOAD_BYTES,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    ApiError,
    bad_request,
    check_reply_markup,
    format_text,
    inline_keyboard,
    normalize_parse_mode,
    utf16_len,
)
from tests.fakes.telegram_media import (
    DEFAULT_PHOTO_SIZE,
    STICKER_BYTES,
    FileStore,
    StoredFile,
    grey_jpeg,
)

if TYPE_CHECKING:
    from tests.fakes.telegram_api import FakeTelegramAPI

Params = dict[str, Any]


@dataclass
class Upload:
    """A file part of a multipart request."""

    name: str
    filename: str | None
    content_type: str
    data: bytes


Handler = Callable[[Params, dict[str, Upload]], Awaitable[Any]]


@dataclass
class MessageVersion:
    """A message's content before one edit."""

    text: str | None
    caption: str | None
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    date: int


@dataclass
class StoredMessage:
    """A message in a chat, in its current state (edits applied, ``history`` holds the past)."""

    message_id: int
    chat_id: int
    chat: dict[str, Any]
    sender: dict[str, Any]
    date: int
    from_bot: bool
    text: str | None = None
    caption: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)  # of the text or caption
    parse_mode: str | None = None
    source: str | None = None  # text or caption exactly as sent, before entity parsing
    reply_markup: dict[str, Any] | None = None
    photo: list[dict[str, Any]] | None = None
    document: dict[str, Any] | None = None
    sticker: dict[str, Any] | None = None
    media_group_id: str | None = None
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    history: list[MessageVersion] = field(default_factory=list)
    deleted: bool = False

    @property
    def content(self) -> str | None:
        """The text, or the caption of a media message."""
        return self.text if self.text is not None else self.caption

    @property
    def kind(self) -> str:
        """``text``, ``photo``, ``document`` or ``sticker``."""
        return next((k for k in ("photo", "document", "sticker") if getattr(self, k)), "text")

    def buttons(self) -> list[tuple[str, str | None]]:
        """Inline buttons as ``(text, callback_data)``, row by row (URL buttons give None)."""
        return buttons_of(inline_keyboard(self.reply_markup))

    def to_api(self) -> dict[str, Any]:
        """The ``Message`` object as Telegram would send it now."""
        msg: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
        }
        for kind in ("photo", "document", "sticker", "media_group_id", "edit_date"):
            if getattr(self, kind) is not None:
                msg[kind] = getattr(self, kind)
        if self.text is not None:
            msg["text"] = self.text
            if self.entities:
                msg["entities"] = self.entities
        elif self.caption:
            msg["caption"] = self.caption
            if self.entities:
                msg["caption_entities"] = self.entities
        markup = inline_keyboard(self.reply_markup)
        if markup:
            msg["reply_markup"] = markup
        return msg


def buttons_of(markup: dict[str, Any] | None) -> list[tuple[str, str | None]]:
    """``(text, callback_data)`` of each button of an inline keyboard dict."""
    rows = (markup or {}).get("inline_keyboard", [])
    return [(button.get("text", ""), button.get("callback_data")) for row in rows for button in row]


@dataclass
class FakeChat:
    """A chat the fake knows. Private chats have ``id == user id``."""

    id: int
    type: str
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    blocked: bool = False

    def to_api(self) -> dict[str, Any]:
        """The ``Chat`` object."""
        chat: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "first_name", "last_name", "username"):
            if getattr(self, key):
                chat[key] = getattr(self, key)
        return chat


@dataclass
class CallbackState:
    """A callback query the fake created, until the bot answers it."""

    user_id: int
    chat_id: int
    message_id: int
    data: str
    answered: bool = False


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class ChatStore:
    """Chats, messages, files and callback queries, with the Bot API methods that use them."""

    METHODS = (
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "sendChatAction",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "deleteMessage",
        "answerCallbackQuery",
        "getFile",
    )

    def __init__(
        self, bot_user: dict[str, Any], *, clock: Callable[[], float], strict_html: bool
    ) -> None:
        self.bot_sender = {k: bot_user[k] for k in ("id", "is_bot", "first_name", "username")}
        self.clock = clock
        self.strict_html = strict_html
        self.chats: dict[int, FakeChat] = {}
        self.files = FileStore()
        self.callbacks: dict[str, CallbackState] = {}
        self.answered_callbacks: list[dict[str, Any]] = []
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)
        self._media_groups = itertools.count(13_000_000_000_000_001)

    def handlers(self) -> dict[str, Handler]:
        """Bot API method name -> implementation."""
        return {name: getattr(self, _snake(name)) for name in self.METHODS}

    # ----------------------------------------------------------------- building blocks

    def now(self) -> int:
        """Unix seconds."""
        return int(self.clock())

    def store(
        self, chat: FakeChat, sender: dict[str, Any], *, from_bot: bool, **content: Any
    ) -> StoredMessage:
        """Append a message to a chat with the chat's next message_id."""
        msg = StoredMessage(
            message_id=chat.next_message_id,
            chat_id=chat.id,
            chat=chat.to_api(),
            sender=sender,
            date=self.now(),
            from_bot=from_bot,
            **content,
        )
        chat.next_message_id += 1
        chat.messages[msg.message_id] = msg
        return msg

    def message_api(self, msg: StoredMessage) -> dict[str, Any]:
        """The ``Message`` object, with ``reply_to_message`` filled in."""
        result = msg.to_api()
        if msg.reply_to_message_id is not None:
            replied = self.chats[msg.chat_id].messages.get(msg.reply_to_message_id)
            if replied is not None and not replied.deleted:
                result["reply_to_message"] = replied.to_api()
        return result

    def new_callback_query(
        self, user: dict[str, Any], msg: StoredMessage, data: str
    ) -> dict[str, Any]:
        """A ``CallbackQuery`` object for pressing a button of ``msg``."""
        query_id = str(next(self._callback_ids))
        self.callbacks[query_id] = CallbackState(user["id"], msg.chat_id, msg.message_id, data)
        return {
            "id": query_id,
            "from": user,
            "message": self.message_api(msg),
            "chat_instance": str(abs(msg.chat_id) * 7919 + self.bot_sender["id"]),
            "data": data,
        }

    def _target_chat(self, params: Params) -> FakeChat:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise bad_request("chat_id is empty")
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None and isinstance(chat_id, str) and chat_id.startswith("@"):
            named = (c for c in self.chats.values() if c.type != "private")
            chat = next((c for c in named if c.username == chat_id[1:]), None)
        if chat is None:
            raise bad_request("chat not found")
        if chat.blocked and chat.type != "private":
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _reply_to(self, chat: FakeChat, params: Params) -> int | None:
        reply = params.get("reply_parameters") or {}
        message_id = params.get("reply_to_message_id") or reply.get("message_id")
        if message_id is None:
            return None
        target = chat.messages.get(int(message_id))
        if target is None or target.deleted:
            allow = "allow_sending_without_reply"
            if params.get(allow) or reply.get(allow):
                return None
            raise bad_request("message to be replied not found")
        return target.message_id

    def _bot_message(self, chat: FakeChat, params: Params, **content: Any) -> dict[str, Any]:
        reply_to = self._reply_to(chat, params)
        msg = self.store(
            chat, self.bot_sender, from_bot=True, reply_to_message_id=reply_to, **content
        )
        return self.message_api(msg)

    def _text(self, params: Params, *, caption: bool) -> dict[str, Any]:
        """Parsed text or caption as StoredMessage fields (limits enforced)."""
        key = "caption" if caption else "text"
        text, entities = format_text(
            params.get(key),
            params.get("parse_mode"),
            params.get("caption_entities" if caption else "entities"),
            caption=caption,
            strict_ampersand=self.strict_html,
        )
        return {
            key: (text or None) if caption else text,
            "entities": entities,
            "parse_mode": normalize_parse_mode(params.get("parse_mode")),
            "source": params.get(key),
        }

    def _editable(self, params: Params) -> StoredMessage:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # fake: inline messages are not modelled
        chat = self._target_chat(params)
        if params.get("message_id") is None:
            raise bad_request("message identifier is not specified")
        msg = chat.messages.get(int(params["message_id"]))
        if msg is None or msg.deleted:
            raise bad_request("message to edit not found")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        return msg

    def _apply_edit(self, msg: StoredMessage, **changes: Any) -> dict[str, Any]:
        new = (changes.get("text", msg.text), changes.get("caption", msg.caption))
        new_entities = changes.get("entities", msg.entities)
        if (*new, new_entities, changes["reply_markup"]) == (
            msg.text,
            msg.caption,
            msg.entities,
            inline_keyboard(msg.reply_markup),
        ):
            raise ApiError(400, NOT_MODIFIED)
        previous = (msg.text, msg.caption, msg.entities, msg.reply_markup)
        msg.history.append(MessageVersion(*previous, date=msg.edit_date or msg.date))
        for key, value in changes.items():
            setattr(msg, key, value)
        msg.edit_date = self.now()
        return self.message_api(msg)

    def _input_file(self, value: Any, files: dict[str, Upload], name: str) -> Any:
        """An Upload, an http(s) URL, or a known StoredFile for a file parameter."""
        if name in files:
            return files[name]
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request(f"there is no {name} in the request")
            return upload
        if isinstance(value, str) and re.match(r"https?://", value):
            return value
        if isinstance(value, str) and value in self.files.by_id:
            return self.files.by_id[value]
        if value in (None, ""):
            raise bad_request(f"there is no {name} in the request")
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _photo(self, value: Any, files: dict[str, Upload]) -> list[dict[str, Any]]:
        source = self._input_file(value, files, "photo")
        if isinstance(source, Upload):
            return self.files.add_photo(source.data)
        if isinstance(source, str):  # a URL: Telegram would fetch it; the fake makes a photo
            return self.files.add_photo(grey_jpeg(*DEFAULT_PHOTO_SIZE))
        sizes = self.files.photo_sizes(source.file_id)
        if sizes is None:
            raise bad_request(f"can't use file of type {source.kind.title()} as Photo")
        return sizes

    def _document(self, value: Any, files: dict[str, Upload]) -> dict[str, Any]:
        source = self._input_file(value, files, "document")
        if isinstance(source, StoredFile):
            return source.as_document()
        if isinstance(source, Upload):
            name, data = source.filename or "file", source.data
            mime = source.content_type or mimetypes.guess_type(name)[0]
        else:  # a URL
            name, data = source.rstrip("/").rsplit("/", 1)[-1] or "file", b""
            mime = mimetypes.guess_type(name)[0]
        return self.files.add(data, kind="document", file_name=name, mime_type=mime).as_document()

    # ----------------------------------------------------------------- Bot API methods

    async def send_message(self, params: Params, files: dict[str, Upload]) -> Any:
        chat = self._target_chat(params)
        text = self._text(params, caption=False)
        markup = check_reply_markup(params.get("reply_markup"))
        return self._bot_message(chat, params, **text, reply_markup=markup)

    async def send_photo(self, params: Params, files: dict[str, Upload]) -> Any:
        chat = self._target_chat(params)
        caption = self._text(params, caption=True)
        markup = check_reply_markup(params.get("reply_markup"))
        photo = self._photo(params.get("photo"), files)
        return self._bot_message(chat, params, photo=photo, **caption, reply_markup=markup)

    async def send_document(self, params: Params, files: dict[str, Upload]) -> Any:
        chat = self._target_chat(params)
        caption = self._text(params, caption=True)
        markup = check_reply_markup(params.get("reply_markup"))
        document = self._document(params.get("document"), files)
        return self._bot_message(chat, params, document=document, **caption, reply_markup=markup)

    async def send_media_group(self, params: Params, files: dict[str, Upload]) -> Any:
        chat = self._target_chat(params)
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise bad_request("wrong number of media in the group")  # fake's wording
        prepared: list[dict[str, Any]] = []
        for item in media:
            kind = item.get("type") if isinstance(item, dict) else None
            if kind not in ("photo", "video", "audio", "document"):
                raise bad_request("can't parse InputMedia: unsupported media type")
            content = self._text(item, caption=True)
            if kind == "photo":
                content["photo"] = self._photo(item.get("media"), files)
            else:  # videos and audio are kept as documents in this fake
                content["document"] = self._document(item.get("media"), files)
            prepared.append(content)
        group_id = str(next(self._media_groups))
        return [self._bot_message(chat, params, media_group_id=group_id, **c) for c in prepared]

    async def send_chat_action(self, params: Params, files: dict[str, Upload]) -> Any:
        self._target_chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def edit_message_text(self, params: Params, files: dict[str, Upload]) -> Any:
        msg = self._editable(params)
        if msg.text is None:
            raise bad_request("there is no text in the message to edit")
        text = self._text(params, caption=False)
        markup = inline_keyboard(check_reply_markup(params.get("reply_markup")))
        return self._apply_edit(msg, **text, reply_markup=markup)

    async def edit_message_caption(self, params: Params, files: dict[str, Upload]) -> Any:
        msg = self._editable(params)
        if msg.text is not None or msg.sticker:
            raise bad_request("there is no caption in the message to edit")
        caption = self._text(params, caption=True)
        markup = inline_keyboard(check_reply_markup(params.get("reply_markup")))
        return self._apply_edit(msg, **caption, reply_markup=markup)

    async def edit_message_reply_markup(self, params: Params, files: dict[str, Upload]) -> Any:
        msg = self._editable(params)
        markup = inline_keyboard(check_reply_markup(params.get("reply_markup")))
        return self._apply_edit(msg, reply_markup=markup)

    async def delete_message(self, params: Params, files: dict[str, Upload]) -> Any:
        chat = self._target_chat(params)
        msg = chat.messages.get(int(params.get("message_id") or 0))
        if msg is None or msg.deleted:
            raise bad_request("message to delete not found")
        msg.deleted = True
        return True

    async def answer_callback_query(self, params: Params, files: dict[str, Upload]) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        state = self.callbacks.get(query_id)
        if state is None or state.answered:
            raise ApiError(400, QUERY_TOO_OLD)
        text = params.get("text")
        if text and len(str(text)) > MAX_ANSWER_TEXT:
            raise bad_request("MESSAGE_TOO_LONG")  # fake's wording
        state.answered = True
        self.answered_callbacks.append(
            {
                "callback_query_id": query_id,
                "text": text,
                "show_alert": bool(params.get("show_alert", False)),
                "url": params.get("url"),
                "cache_time": params.get("cache_time"),
                "data": state.data,
                "chat_id": state.chat_id,
                "message_id": state.message_id,
                "user_id": state.user_id,
            }
        )
        return True

    async def get_file(self, params: Params, files: dict[str, Upload]) -> Any:
        stored = self.files.by_id.get(str(params.get("file_id") or ""))
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.file_size > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return stored.as_file()


class FakeUser:
    """A Telegram user who talks to the bot; each ``send_*``/``press`` returns the update_id."""

    def __init__(
        self,
        api: FakeTelegramAPI,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
    ) -> None:
        self.api = api
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code

    def to_api(self) -> dict[str, Any]:
        """The ``User`` object."""
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                user[key] = getattr(self, key)
        return user

    def block(self) -> None:
        """Block the bot: sends to this user's chat get 403 Forbidden."""
        self.api.chat(self.id).blocked = True

    def unblock(self) -> None:
        """Unblock the bot."""
        self.api.chat(self.id).blocked = False

    async def send_text(
        self, text: str, *, chat_id: int | None = None, reply_to: int | None = None
    ) -> int:
        """Send a text message; a leading ``/command`` gets its ``bot_command`` entity."""
        entities: list[dict[str, Any]] = []
        match = COMMAND_RE.match(text)
        if match:
            entities.append({"type": "bot_command", "offset": 0, "length": match.end()})
        return self.api.post_user_message(
            self, chat_id, text=text, entities=entities, reply_to_message_id=reply_to
        )

    async def send_command(
        self,
        command: str,
        args: str | None = None,
        *,
        chat_id: int | None = None,
        mention_bot: bool = False,
    ) -> int:
        """Send ``/command [args]`` (optionally ``/command@botname``)."""
        command = "/" + command.lstrip("/")
        if mention_bot:
            command += "@" + self.api.bot_username
        text = f"{command} {args}" if args else command
        entity = {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
        return self.api.post_user_message(self, chat_id, text=text, entities=[entity])

    async def press(
        self,
        message: StoredMessage | int,
        callback_data: str,
        *,
        chat_id: int | None = None,
        strict: bool = True,
    ) -> int:
        """Press an inline button of a bot message (``strict``: it must be on the keyboard)."""
        chat = self.api.chat(self.id if chat_id is None else chat_id)
        message_id = message if isinstance(message, int) else message.message_id
        if isinstance(message, StoredMessage):
            chat = self.api.chat(message.chat_id)
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted:
            raise ValueError(f"no message {message_id} in chat {chat.id} to press a button on")
        if strict and callback_data not in [data for _, data in stored.buttons()]:
            raise ValueError(
                f"message {message_id} has no button with callback_data {callback_data!r}; "
                f"buttons: {stored.buttons()} (pass strict=False to forge one)"
            )
        return self.api.post_callback_query(self, stored, callback_data)

    async def send_photo(
        self, data: bytes, caption: str | None = None, *, chat_id: int | None = None
    ) -> int:
        """Send a photo; the bot sees several sizes, the largest serving ``data``."""
        return self.api.post_user_message(
            self, chat_id, photo=self.api.files.add_photo(data), caption=caption
        )

    async def send_document(
        self,
        data: bytes,
        file_name: str = "file.bin",
        mime_type: str | None = None,
        *,
        caption: str | None = None,
        file_size: int | None = None,
        chat_id: int | None = None,
    ) -> int:
        """Send a file. ``file_size`` may claim more than ``len(data)`` (> 20 MB: too big)."""
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        stored = self.api.files.add(
            data, kind="document", file_name=file_name, mime_type=mime, file_size=file_size
        )
        return self.api.post_user_message(
            self, chat_id, document=stored.as_document(), caption=caption
        )

    async def send_sticker(self, emoji: str = "👍", *, chat_id: int | None = None) -> int:
        """Send a (static) sticker."""
        stored = self.api.files.add(
            STICKER_BYTES, kind="sticker", mime_type="image/webp", width=512, height=512
        )
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": stored.file_size,
        }
        return self.api.post_user_message(self, chat_id, sticker=sticker)
