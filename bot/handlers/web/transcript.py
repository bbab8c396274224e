"""A web chat's transcript is its outbox: the rows of kind send/edit/send_photo/send_document
that were delivered (or are being delivered) to the chat, replayed in order.

Each delivered row carries the message id the web channel gave it: a new message gets its own
row id, an edit gets the id of the message it replaces. Messages the person typed or uploaded
are queued to the same chat by the web channel (`Outgoing.from_person`), so they survive a reload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core.messages import Outgoing
from bot.core.report_request import needs_preparing
from bot.core.texts import plain
from bot.delivery import outgoing
from storage.db import Tx
from storage.records import Channel, OutboxKind, OutboxMessage, OutboxStatus

SHOWN = (OutboxKind.SEND, OutboxKind.EDIT, OutboxKind.SEND_PHOTO, OutboxKind.SEND_DOCUMENT)


def message_id(message: OutboxMessage, target_message_id: str | None) -> str:
    """An edit replaces its target in place; anything else is a new message."""
    if message.kind is OutboxKind.EDIT and target_message_id is not None:
        return target_message_id
    return str(message.id)


def view(row: OutboxMessage, message: Outgoing, shown_id: str) -> dict[str, Any]:
    """What the page gets for one row (text is the HTML subset; the page sanitises it)."""
    kind = {OutboxKind.SEND_PHOTO: "photo", OutboxKind.SEND_DOCUMENT: "document"}
    result: dict[str, Any] = {
        "seq": row.id,
        "id": shown_id,
        "kind": kind.get(row.kind, "text"),
        "from": "me" if message.from_person else "bot",
        "text": message.text,
        "buttons": [[[b.text, b.payload] for b in line] for line in message.buttons],
        "at": (row.sent_at or row.created_at).isoformat(),
    }
    if message.photos:
        result["photos"] = list(message.photos)
    if message.document:
        result["document"] = {
            "sha256": message.document,
            "name": message.document_name or plain("common", "unnamed_file"),
        }
    if message.client_key:
        result["key"] = message.client_key
    return result


def being_prepared(row: OutboxMessage) -> bool:
    """A row not sent yet whose files are made just before sending (a report, watermarked
    photos): what it names now is not what the person will be shown. Once sent, its payload
    is the prepared one."""
    return row.status is not OutboxStatus.SENT and needs_preparing(row.payload)


async def transcript(
    tx: Tx, chat_id: str, after: int, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """The chat's messages after row `after`, at most the newest `limit`; True if cut short."""
    rows = await tx.outbox.delivered(Channel.WEB, chat_id, SHOWN, after=after, limit=limit + 1)
    truncated = len(rows) > limit
    views = []
    for row in reversed(rows[:limit]):
        if being_prepared(row):
            break  # its files are being made: the page gets it live, or on its next visit
        shown_id = row.channel_message_id
        if shown_id is None:
            target = None
            if row.kind is OutboxKind.EDIT and row.edit_of_ref:
                target = await tx.outbox.message_id_for_ref(Channel.WEB, chat_id, row.edit_of_ref)
            shown_id = message_id(row, target)
        views.append(view(row, outgoing(row), shown_id))
    return views, truncated


@dataclass(frozen=True)
class SharedFile:
    """A file shown in the chat: a photo, or a document with its name."""

    sha256: str
    document_name: str | None


async def find_file(tx: Tx, chat_id: str, sha256: str) -> SharedFile | None:
    """The file if it was shown in this chat; a person sees only their own chat's files."""
    message = await tx.outbox.delivered_file(Channel.WEB, chat_id, sha256)
    if message is None or being_prepared(message):
        return None  # the originals of photos still being watermarked are not what is shown
    if message.kind is OutboxKind.SEND_DOCUMENT:
        return SharedFile(
            sha256, outgoing(message).document_name or plain("common", "unnamed_file")
        )
    return SharedFile(sha256, None)
