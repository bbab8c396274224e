"""Telegram Bot API limits and error shapes, as enforced by :mod:`tests.fakes.telegram_api`.

Everything here is pure (no I/O) so it can be unit-tested on its own:

* :class:`ApiError` — an error answer (HTTP status + Telegram's ``description``).
* :func:`parse_html` — Telegram's HTML parse mode: visible text + entities, or the error
  TDLib gives (messages follow TDLib's ``parse_html``, e.g. ``Unsupported start tag "x" at
  byte offset 3``). Offsets and lengths of entities are in UTF-16 code units, as in the API.
* :func:`format_text` — text/caption after entity parsing, with the length limits.
* :func:`check_reply_markup` — inline keyboards (callback_data 1–64 bytes, ≤ 100 buttons).
* :func:`coerce_param` — form fields (strings) to the JSON types Telegram reads them as.
* :class:`FloodLimiter` — optional 429 ``Too Many Requests`` per chat and overall.

Where the real server's exact wording is unknown the description is marked "fake's wording".
"""

from __future__ import annotations

import json
import math
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
MAX_ANSWER_TEXT = 200

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"

# Tag name -> entity type (Bot API names).
_HTML_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(
    r"&(?:#[xX]([0-9a-fA-F]{1,8})|#([0-9]{1,10})|(lt|gt|amp|quot)(?![a-zA-Z]));?"
)
_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "web_app",
    "copy_text",
)
# A leading bot command, as clients mark it with a bot_command entity.
COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_])")
_URL_RE = re.compile(r"^(https?|tg)://\S+$", re.IGNORECASE)
CHAT_ACTIONS = frozenset(
    [
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ]
)
# Methods that count against flood limits when those are switched on.
FLOOD_METHODS = frozenset(
    [
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
    ]
)
# Form fields arrive as strings; Telegram reads these as JSON, integers and booleans.
_JSON_FIELDS = frozenset(
    [
        "reply_markup",
        "entities",
        "caption_entities",
        "media",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "reply_parameters",
    ]
)
_INT_FIELDS = frozenset(
    [
        "offset",
        "limit",
        "timeout",
        "message_id",
        "reply_to_message_id",
        "cache_time",
        "message_thread_id",
        "max_connections",
    ]
)
_BOOL_FIELDS = frozenset(
    [
        "show_alert",
        "disable_notification",
        "protect_content",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "has_spoiler",
        "disable_content_type_detection",
        "show_caption_above_media",
    ]
)


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code": status, "description": ...}``."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        """The JSON body Telegram sends for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(what: str) -> ApiError:
    """HTTP 400 ``Bad Request: <what>``."""
    return ApiError(400, f"Bad Request: {what}")


class HtmlError(ValueError):
    """Telegram could not parse the HTML; ``str(exc)`` is TDLib's message."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (the unit of entity offsets and lengths)."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


@dataclass
class _OpenTag:
    name: str
    attrs: dict[str, str]
    start: int  # UTF-16 offset in the output
    text_start: int  # index into the output list, to recover inner text for <a>
    entity: dict[str, Any] | None = field(default=None)


def _decode_entity(source: str, index: int) -> tuple[str, int] | None:
    """Decode ``&...;`` at ``index`` as TDLib does; ``None`` when it isn't an entity."""
    match = _ENTITY_RE.match(source, index)
    if match is None:
        return None
    hex_code, dec_code, name = match.groups()
    if name:
        return _NAMED_ENTITIES[name], match.end()
    code = int(hex_code, 16) if hex_code else int(dec_code)
    if code == 0 or code > 0x10FFFF:
        return None
    if 0xD800 <= code <= 0xDFFF:
        raise HtmlError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        )
    return chr(code), match.end()


def _decode_attribute(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        decoded = _decode_entity(value, i) if value[i] == "&" else None
        if decoded:
            out.append(decoded[0])
            i = decoded[1]
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _parse_attributes(source: str, j: int, name: str, begin: int) -> tuple[dict[str, str], int]:
    """Parse ``attr="v" attr2=v attr3`` up to and including ``>``; return (attrs, next index)."""
    n = len(source)
    attrs: dict[str, str] = {}
    while True:
        while j < n and source[j].isspace():
            j += 1
        if j >= n:
            raise HtmlError(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
        if source[j] == ">":
            return attrs, j + 1
        attr_start = j
        while j < n and not source[j].isspace() and source[j] not in "=>":
            j += 1
        attr = source[attr_start:j].lower()
        if not attr:
            raise HtmlError(
                f'Empty attribute name in the tag "{name}" at byte offset '
                f"{_byte_offset(source, begin)}"
            )
        while j < n and source[j].isspace():
            j += 1
        value = ""
        if j < n and source[j] == "=":
            j += 1
            while j < n and source[j].isspace():
                j += 1
            if j >= n:
                raise HtmlError(
                    f'Unclosed start tag "{name}" at byte offset {_byte_offset(source, begin)}'
                )
            if source[j] in "\"'":
                end = source.find(source[j], j + 1)
                if end < 0:
                    raise HtmlError(
                        f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
                    )
                value = _decode_attribute(source[j + 1 : end])
                j = end + 1
            else:
                value_start = j
                while j < n and not source[j].isspace() and source[j] != ">":
                    j += 1
                value = source[value_start:j]
        attrs[attr] = value


_MENTION_HREF = re.compile(r"tg://user\?id=(\d+)")


def _entity_for(tag: _OpenTag, source: str, begin: int) -> dict[str, Any] | None:
    """The entity a start tag opens (without offset/length); may raise for bad attributes."""
    kind = _HTML_TAGS[tag.name]
    if tag.name == "span" and tag.attrs.get("class") != "tg-spoiler":
        raise HtmlError(
            f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(source, begin)}'
        )
    if tag.name == "a":
        href = tag.attrs.get("href")
        mentioned = _MENTION_HREF.fullmatch(href or "")
        if mentioned is not None:
            # Telegram turns a link to a user into a mention of them.
            user = {"id": int(mentioned.group(1)), "is_bot": False, "first_name": ""}
            return {"type": "text_mention", "user": user}
        return {"type": "text_link", "url": href} if href else None
    if tag.name == "tg-emoji":
        emoji_id = tag.attrs.get("emoji-id")
        if not emoji_id:
            raise HtmlError(
                f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset '
                f"{_byte_offset(source, begin)}"
            )
        return {"type": kind, "custom_emoji_id": emoji_id}
    if tag.name == "blockquote" and "expandable" in tag.attrs:
        return {"type": "expandable_blockquote"}
    return {"type": kind}


def parse_html(source: str, *, strict_ampersand: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into ``(visible text, entities)`` or raise :class:`HtmlError`.

    Follows TDLib: supported tags only, properly nested, ``</>`` closes the innermost tag,
    a bare ``<`` is an (empty-named) unsupported start tag. Telegram itself keeps a bare
    ``&`` literally; with ``strict_ampersand`` (default) the fake rejects it, since the Bot API
    docs require escaping and an unescaped ``&`` usually means unescaped user input.
    """
    out: list[str] = []
    entities: list[dict[str, Any]] = []
    stack: list[_OpenTag] = []
    utf16 = 0
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "&":
            decoded = _decode_entity(source, i)
            if decoded is None:
                if strict_ampersand:
                    raise HtmlError(
                        f"Character '&' at byte offset {_byte_offset(source, i)} is not part of "
                        "an HTML entity; write &amp; (fake's wording: Telegram keeps a bare '&', "
                        "this fake is stricter)"
                    )
                decoded = ("&", i + 1)
            out.append(decoded[0])
            utf16 += utf16_len(decoded[0])
            i = decoded[1]
            continue
        if ch != "<":
            out.append(ch)
            utf16 += 2 if ord(ch) > 0xFFFF else 1
            i += 1
            continue
        begin = i
        if i + 1 < n and source[i + 1] == "/":
            if not stack:
                raise HtmlError(f"Unexpected end tag at byte offset {_byte_offset(source, begin)}")
            j = i + 2
            while j < n and not source[j].isspace() and source[j] != ">":
                j += 1
            end_name = source[i + 2 : j].lower()
            while j < n and source[j].isspace():
                j += 1
            if j >= n or source[j] != ">":
                raise HtmlError(f"Unclosed end tag at byte offset {_byte_offset(source, begin)}")
            tag = stack.pop()
            if end_name and end_name != tag.name:
                raise HtmlError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, begin)}, "
                    f'expected "</{tag.name}>", found "</{end_name}>"'
                )
            _close_tag(tag, out, entities, stack, utf16)
            i = j + 1
            continue
        j = i + 1
        while j < n and not source[j].isspace() and source[j] != ">":
            j += 1
        if j >= n:
            raise HtmlError(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
        name = source[i + 1 : j].lower()
        if name not in _HTML_TAGS:
            raise HtmlError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, begin)}'
            )
        attrs, i = _parse_attributes(source, j, name, begin)
        tag = _OpenTag(name=name, attrs=attrs, start=utf16, text_start=len(out))
        tag.entity = _entity_for(tag, source, begin)
        stack.append(tag)
    if stack:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close_tag(
    tag: _OpenTag,
    out: list[str],
    entities: list[dict[str, Any]],
    stack: list[_OpenTag],
    utf16: int,
) -> None:
    length = utf16 - tag.start
    entity = tag.entity
    if tag.name == "a" and entity is None:
        inner = "".join(out[tag.text_start :])
        if _URL_RE.match(inner):
            entity = {"type": "text_link", "url": inner}
    if tag.name == "code" and stack and stack[-1].name == "pre":
        language = tag.attrs.get("class", "")
        if language.startswith("language-") and len(language) > len("language-"):
            pre = stack[-1].entity
            if pre is not None:
                pre["language"] = language.removeprefix("language-")
            return
    if entity is None or length <= 0:
        return
    entities.append({**entity, "offset": tag.start, "length": length})


def _strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim surrounding whitespace like Telegram, shifting and clipping entities."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    kept: list[dict[str, Any]] = []
    for entity in entities:
        start = max(0, entity["offset"] - lead)
        end = min(total, entity["offset"] + entity["length"] - lead)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def normalize_parse_mode(parse_mode: Any) -> str | None:
    """``None`` for plain text, else the canonical parse mode; raise for unknown ones."""
    if parse_mode in (None, ""):
        return None
    modes = {"html": "HTML", "markdown": "Markdown", "markdownv2": "MarkdownV2"}
    canonical = modes.get(str(parse_mode).lower())
    if canonical is None:
        raise bad_request(f"unsupported parse_mode {parse_mode}")
    return canonical


def format_text(
    text: Any,
    parse_mode: Any,
    entities: Any = None,
    *,
    caption: bool = False,
    strict_ampersand: bool = True,
) -> tuple[str, list[dict[str, Any]]]:
    """Return ``(visible text, entities)`` after entity parsing, enforcing the limits.

    Messages need 1–4096 characters; captions may be empty and hold up to 1024. Markdown
    modes are accepted but not parsed (the text is stored as sent).
    """
    raw = "" if text is None else str(text)
    mode = normalize_parse_mode(parse_mode)
    parsed: list[dict[str, Any]] = []
    if isinstance(entities, list):
        parsed = [dict(e) for e in entities if isinstance(e, dict)]
        visible = raw
    elif mode == "HTML":
        try:
            visible, parsed = parse_html(raw, strict_ampersand=strict_ampersand)
        except HtmlError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    else:
        visible = raw
    visible, parsed = _strip(visible, parsed)
    if caption:
        if len(visible) > MAX_CAPTION:
            raise bad_request("message caption is too long")
    else:
        if not visible:
            raise bad_request("message text is empty")
        if len(visible) > MAX_TEXT:
            raise bad_request("message is too long")
    return visible, parsed


def coerce_param(key: str, value: Any) -> Any:
    """A request parameter as Telegram reads it (form values are all strings)."""
    if key in _JSON_FIELDS:
        return load_json_field(key, value)
    if not isinstance(value, str):
        return value
    if key in _INT_FIELDS or (key == "chat_id" and re.fullmatch(r"-?\d+", value)):
        try:
            return int(value)
        except ValueError:
            raise bad_request(f"invalid {key} specified") from None
    if key in _BOOL_FIELDS:
        return value.lower() in ("true", "1")
    return value


def load_json_field(name: str, value: Any) -> Any:
    """Decode a JSON-serialized parameter (form fields carry them as strings)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        if name == "reply_markup":
            raise bad_request("can't parse reply keyboard markup JSON object") from None
        raise bad_request(f"can't parse {name} JSON object") from None


def check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Validate ``reply_markup`` and return it as a dict (``None`` if absent)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        if {"keyboard", "remove_keyboard", "force_reply"} & markup.keys():
            return markup
        raise bad_request("can't parse reply keyboard markup JSON object")
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" must be an Array of Arrays')
    if sum(len(row) for row in rows) > MAX_INLINE_BUTTONS:
        raise bad_request("reply markup is too long")
    for row in rows:
        for button in row:
            _check_button(button)
    return markup


def _check_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    if not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not any(key in button for key in _BUTTON_ACTIONS):
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button and not (isinstance(button["url"], str) and _URL_RE.match(button["url"])):
        raise bad_request("BUTTON_URL_INVALID")


def inline_keyboard(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """The markup as it sticks to a message: inline keyboards only, empty ones dropped."""
    if not markup or not markup.get("inline_keyboard"):
        return None
    if not any(markup["inline_keyboard"]):
        return None
    return markup


_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")


def check_commands(commands: Any) -> list[dict[str, str]]:
    """Validate ``setMyCommands``: ≤ 100 commands, names ``[a-z0-9_]{1,32}``, descriptions 1–256."""
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    result: list[dict[str, str]] = []
    for item in commands:
        if not isinstance(item, dict):
            raise bad_request("can't parse BotCommand")
        command = str(item.get("command", "")).removeprefix("/")
        description = str(item.get("description", ""))
        if not _COMMAND_RE.match(command):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        result.append({"command": command, "description": description})
    return result


class FloodLimiter:
    """Sliding-window counts of successful sends, per chat and overall.

    A rate of ``r`` per second allows ``max(1, int(r))`` sends per ``that / r`` seconds.
    """

    def __init__(self, per_chat_per_sec: float | None, global_per_sec: float | None) -> None:
        self.per_chat = per_chat_per_sec
        self.overall = global_per_sec
        self.chat_sends: dict[Any, deque[float]] = {}
        self.all_sends: deque[float] = deque()

    @staticmethod
    def _wait(sends: deque[float], rate: float | None, now: float) -> float:
        if not rate:
            return 0.0
        capacity = max(1, int(rate))
        window = capacity / rate
        while sends and sends[0] <= now - window:
            sends.popleft()
        return sends[0] + window - now if len(sends) >= capacity else 0.0

    def check(self, chat_key: Any, now: float) -> None:
        """Raise the 429 error if a send to ``chat_key`` now would exceed a limit."""
        wait = max(
            self._wait(self.chat_sends.setdefault(chat_key, deque()), self.per_chat, now),
            self._wait(self.all_sends, self.overall, now),
        )
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )

    def record(self, chat_key: Any, now: float) -> None:
        """Count a successful send."""
        self.chat_sends.setdefault(chat_key, deque()).append(now)
        self.all_sends.append(now)
