"""How an outbox message looks in WeCom: text or markdown messages, button cards, numbers.

The flows write text as a small HTML subset (``<b>``, ``<i>``, ``<code>``, user values
escaped) and buttons as rows of ``[label, payload]``. Here:

* text with ``<b>`` becomes a ``markdown`` message (``**bold**``), any other text a ``text``
  message; entities are unescaped, and text longer than WeCom's 2048 bytes is split at lines.
  User values are escaped in the HTML subset but mean nothing to markdown, and WeCom markdown
  has no escape: text in which markdown could find syntax (a link, a tag, emphasis …) is sent
  as a text message, without bold, so that it shows exactly as typed;
* buttons become ``button_interaction`` cards of at most 6 buttons whose ``key`` is the
  payload. Rows are packed in order, so an item's levels come first; when six are not enough a
  second card follows. The first card shows the text (title = first line, the rest below)
  when it fits a card, otherwise the text goes first as its own message;
* more buttons than two cards hold (a section's item list, a long staff list) become numbered
  options under the text: the member types the number, and the channel maps it back to the
  payload (see ``channel.WeComChannel``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.texts import render

MAX_CONTENT_BYTES = 2048
MAX_BUTTONS = 6
MAX_CARDS = 2
# WeCom's recommended lengths for a card's title and its second-level text.
CARD_TITLE_CHARS = 36
CARD_TEXT_CHARS = 160

Button = tuple[str, str]  # (label, payload)
_TAGS = re.compile(r"</?(?:b|i|code)>")
_BOLD = re.compile(r"</?b>")
_MARKDOWN_BOLD = re.compile(r"\*\*")
# What WeCom markdown (or a markdown renderer like it) could read as syntax in the text itself:
# links, <font> and other tags, emphasis, code, strikethrough, escapes, math, headings. WeCom
# markdown has no escape that shows such text as typed (a backslash is shown or read as yet
# other syntax), so text holding any of these goes out as a text message instead.
_MARKDOWN_SYNTAX = re.compile(r"[*_`\[\]<>~\\$]|^[ \t]*#", re.MULTILINE)
# WeCom text messages turn <a href=…> into a link: a zero-width space after "<" keeps any
# tag-like text as typed (it looks the same, and no tag starts with one).
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
ZERO_WIDTH_SPACE = "\u200b"


def plain(text: str) -> str:
    """The HTML subset as plain text."""
    return html.unescape(_TAGS.sub("", text))


def markdown(text: str) -> str:
    """The HTML subset as WeCom markdown: bold stays bold, the rest is plain."""
    return html.unescape(_TAGS.sub("", _BOLD.sub("**", text)))


def split_utf8(text: str, limit: int = MAX_CONTENT_BYTES) -> list[str]:
    """Split at line breaks into pieces of at most ``limit`` UTF-8 bytes; a line longer than
    that is cut, outside its bold spans where one fits in a piece."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line.encode()) > limit:
            cut = _cut(line, limit)
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate.encode()) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        pieces.append(current)
    return pieces


def _cut(line: str, limit: int) -> int:
    """Where to cut ``line``: as much as ``limit`` bytes hold, moved back to the start of the
    ``**…**`` span the cut would fall in (a markdown message's bold, cut in two, would show its
    asterisks), unless the span starts the line."""
    cut = len(line.encode()[:limit].decode(errors="ignore"))
    markers = [m.start() for m in _MARKDOWN_BOLD.finditer(line, 0, cut + 1)]
    if len(markers) % 2:
        start = markers[-1]
    elif markers and markers[-1] + 2 > cut:
        start = markers[-2]
    else:
        return cut
    return start if start > 0 else cut


def text_content(text: str) -> str:
    """The HTML subset as the content of a WeCom text message, shown exactly as typed."""
    return _TAG_START.sub("<" + ZERO_WIDTH_SPACE, plain(text))


def text_messages(text: str) -> list[dict[str, Any]]:
    """``text`` (HTML subset) as message/send bodies: markdown when it has bold and nothing a
    person typed in it would be read as markdown, otherwise text messages."""
    if _BOLD.search(text) and not _MARKDOWN_SYNTAX.search(plain(text)):
        return [
            {"msgtype": "markdown", "markdown": {"content": piece}}
            for piece in split_utf8(markdown(text))
        ]
    return [
        {"msgtype": "text", "text": {"content": piece}} for piece in split_utf8(text_content(text))
    ]


@dataclass(frozen=True)
class Card:
    """One button_interaction card: title, the text under it, and up to six buttons."""

    title: str
    text: str
    buttons: tuple[Button, ...] = ()

    def template_card(self, task_id: str) -> dict[str, Any]:
        card: dict[str, Any] = {"card_type": "button_interaction", "task_id": task_id}
        if self.title:
            card["main_title"] = {"title": self.title}
        if self.text:
            card["sub_title_text"] = self.text
        if self.buttons:
            card["button_list"] = [
                {"text": label, "style": 1, "key": key} for label, key in self.buttons
            ]
        else:
            card["replace_text"] = render("wecom_card_closed")
        return card

    def message(self, task_id: str) -> dict[str, Any]:
        return {"msgtype": "template_card", "template_card": self.template_card(task_id)}

    def update(self, task_id: str) -> dict[str, Any]:
        """update_template_card body that turns the card into this one (no buttons: closed)."""
        return {"template_card": self.template_card(task_id)}


def closed_buttons() -> dict[str, Any]:
    """update_template_card body that greys out a card's buttons and keeps its content."""
    return {"button": {"replace_name": render("wecom_card_closed")}}


@dataclass(frozen=True)
class Rendering:
    """What one outbox message becomes: text messages first, then cards.

    ``options`` are the payloads behind typed numbers 1…n when the buttons were numbered.
    """

    texts: tuple[dict[str, Any], ...]
    cards: tuple[Card, ...] = ()
    options: tuple[str, ...] = ()

    @property
    def sends(self) -> int:
        return len(self.texts) + len(self.cards)


def pack(rows: Sequence[Sequence[Button]]) -> list[list[Button]] | None:
    """Buttons in cards of six, rows kept together where they fit; None if cards cannot hold
    them (more than two cards' worth, or a payload twice: WeCom keys must be unique)."""
    flat = [button for row in rows for button in row]
    if len(flat) > MAX_BUTTONS * MAX_CARDS or len({key for _, key in flat}) != len(flat):
        return None
    groups: list[list[Button]] = []
    for row in rows:
        for start in range(0, len(row), MAX_BUTTONS):
            chunk = list(row[start : start + MAX_BUTTONS])
            if groups and len(groups[-1]) + len(chunk) <= MAX_BUTTONS:
                groups[-1].extend(chunk)
            else:
                groups.append(chunk)
    if len(groups) > MAX_CARDS:
        groups = [flat[i : i + MAX_BUTTONS] for i in range(0, len(flat), MAX_BUTTONS)]
    return groups


def card_face(text: str) -> tuple[str, str] | None:
    """(title, text) for a card showing ``text``, or None when it does not fit one."""
    lines = plain(text).strip().split("\n")
    first, rest = lines[0].strip(), "\n".join(lines[1:]).strip()
    if len(first) > CARD_TITLE_CHARS:
        first, rest = "", "\n".join(lines).strip()
    if len(rest) > CARD_TEXT_CHARS:
        return None
    return first, rest


def _headline(text: str) -> str:
    first = plain(text).strip().split("\n")[0].strip()
    if len(first) > CARD_TITLE_CHARS:
        first = first[: CARD_TITLE_CHARS - 1] + "…"
    return first


def rendering(text: str, rows: Sequence[Sequence[Button]]) -> Rendering:
    """Lay out one message (HTML-subset text and button rows) for WeCom."""
    if not any(rows):
        return Rendering(texts=tuple(text_messages(text)))
    groups = pack(rows)
    if groups is None:
        flat = [button for row in rows for button in row]
        numbered = render("wecom_numbered", options=[label for label, _ in flat])
        joined = f"{text}\n\n{numbered}" if text.strip() else numbered
        return Rendering(texts=tuple(text_messages(joined)), options=tuple(k for _, k in flat))
    more = render("wecom_more_actions")
    face = card_face(text) if text.strip() else (more, "")
    lead: list[dict[str, Any]] = []
    if face is None:
        lead, face = text_messages(text), (_headline(text), "")
    cards = [Card(face[0], face[1], tuple(groups[0]))]
    cards.extend(Card(more, "", tuple(group)) for group in groups[1:])
    return Rendering(texts=tuple(lead), cards=tuple(cards))


def closed_face(text: str) -> Card | None:
    """The card an edit without buttons turns the first card into, if the text fits."""
    face = card_face(text)
    return None if face is None else Card(face[0], face[1])
