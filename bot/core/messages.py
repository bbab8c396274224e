"""Channel-neutral outgoing messages: what the flows ask the adapters to show.

Text is a small HTML subset (<b>, <i>, <code>) with every user-supplied value escaped, which
Telegram renders directly, the web chat shows as HTML and WeCom turns into markdown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.core.report_request import (
    BANDS_KEY,
    STAMPED_KEY,
    ReportFormat,
    asked,
    bulletin_request,
    bulletin_requested,
    report_request,
    requested,
)


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


GROUP_KEY = "group"
"""The payload key naming the chat_groups row a project-group post goes to."""
MENTIONED_KEY = "mentioned_list"
MENTIONED_MOBILE_KEY = "mentioned_mobile_list"
EXTRA_KEY = "extra"
FROM_PERSON = "web_from_person"
CLIENT_KEY = "web_key"


@dataclass(frozen=True)
class GroupPost:
    """Where a project-group post goes (bot.flows.group_posts) and whom it @-mentions (WeCom
    UserIDs, else mobiles)."""

    group_id: int
    userids: tuple[str, ...] = ()
    mobiles: tuple[str, ...] = ()

    def to_payload(self) -> dict[str, Any]:
        mentions = (
            {MENTIONED_KEY: list(self.userids), MENTIONED_MOBILE_KEY: list(self.mobiles)}
            if self.userids or self.mobiles
            else {}
        )
        return {GROUP_KEY: self.group_id, **mentions}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> GroupPost | None:
        group_id = payload.get(GROUP_KEY)
        if not isinstance(group_id, int):
            return None
        return cls(
            group_id,
            _strings(payload.get(MENTIONED_KEY)),
            _strings(payload.get(MENTIONED_MOBILE_KEY)),
        )


@dataclass(frozen=True)
class FileRequest:
    """A file the outbox worker makes just before sending (bot.core.report_request): an
    inspection's report, or a month's 通报 (of a region, or company-wide)."""

    format: ReportFormat
    report: int | None = None
    bulletin: str | None = None
    region: int | None = None
    asked: str | None = None
    """The token of the request a report belongs to (bot.core.report_request.new_request)."""

    def to_payload(self) -> dict[str, Any]:
        if self.bulletin is not None:
            return bulletin_request(self.bulletin, self.region, self.format)
        assert self.report is not None
        return report_request(self.report, self.format, self.asked)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> FileRequest | None:
        report = requested(payload)
        if report is not None:
            return cls(report[1], report=report[0], asked=asked(payload))
        month = bulletin_requested(payload)
        if month is not None:
            return cls(month[2], bulletin=month[0], region=month[1])
        return None


@dataclass(frozen=True)
class Outgoing:
    """A message for one chat.

    `ref` names this message so that a later `edit` with `edit_ref` can replace it in place;
    channels that cannot edit send the edit as a new message. `to_payload` is what an outbox
    row stores and `from_payload` reads it back (kind, ref and edit_ref are the row's columns).
    """

    kind: OutboxKind
    text: str = ""
    buttons: tuple[tuple[Button, ...], ...] = ()
    ref: str | None = None
    edit_ref: str | None = None
    photos: tuple[str, ...] = ()
    bands: tuple[str, ...] = ()
    """One watermark band per photo ("" for none); the rendition is made on the way out."""
    stamped: tuple[str, ...] = ()
    """Once the renditions are made: the originals the photos are renditions of."""
    document: str | None = None
    document_name: str | None = None
    callback_id: str | None = None
    alert: bool = False
    from_person: bool = False
    """The person's own message, kept in their web chat's transcript."""
    client_key: str | None = None
    """The web page's id of that message."""
    group: GroupPost | None = None
    request: FileRequest | None = None

    def to_payload(self) -> dict[str, Any]:
        key = {CLIENT_KEY: self.client_key} if self.client_key else {}
        echo = {FROM_PERSON: True, **key} if self.from_person else None
        return {
            "text": self.text,
            "buttons": [[[b.text, b.payload] for b in row] for row in self.buttons],
            "photos": list(self.photos),
            **({BANDS_KEY: list(self.bands)} if any(self.bands) else {}),
            **({STAMPED_KEY: list(self.stamped)} if self.stamped else {}),
            "document": self.document,
            "document_name": self.document_name,
            "callback_id": self.callback_id,
            "alert": self.alert,
            **({EXTRA_KEY: echo} if echo else {}),
            **(self.group.to_payload() if self.group else {}),
            **(self.request.to_payload() if self.request else {}),
        }

    @classmethod
    def from_payload(
        cls,
        payload: Mapping[str, Any],
        kind: OutboxKind,
        *,
        ref: str | None = None,
        edit_ref: str | None = None,
    ) -> Outgoing:
        """The message an outbox row holds; keys a row of an older version lacks take their
        defaults."""
        extra = payload.get(EXTRA_KEY)
        echo = extra if isinstance(extra, dict) else {}
        return cls(
            kind=kind,
            text=str(payload.get("text") or ""),
            buttons=tuple(
                tuple(Button(str(label), str(data)) for label, data in row)
                for row in payload.get("buttons") or ()
            ),
            ref=ref,
            edit_ref=edit_ref,
            photos=_strings(payload.get("photos")),
            bands=_strings(payload.get(BANDS_KEY)),
            stamped=_strings(payload.get(STAMPED_KEY)),
            document=_optional(payload.get("document")),
            document_name=_optional(payload.get("document_name")),
            callback_id=_optional(payload.get("callback_id")),
            alert=bool(payload.get("alert")),
            from_person=bool(echo.get(FROM_PERSON)),
            client_key=_optional(echo.get(CLIENT_KEY)),
            group=GroupPost.from_payload(payload),
            request=FileRequest.from_payload(payload),
        )


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


def album(caption: str, photos: Sequence[Photo]) -> Outgoing:
    """The photos as one album with its caption; stamped ones carry their bands."""
    return Outgoing(
        kind=OutboxKind.SEND_PHOTO,
        text=caption,
        photos=tuple(p.sha256 if isinstance(p, Stamped) else p for p in photos),
        bands=tuple(p.band if isinstance(p, Stamped) else "" for p in photos),
    )
