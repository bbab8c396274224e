"""What the people saw on Telegram against what the outbox says was delivered.

Every delivered outbox row must be in its chat exactly once (its stored message id is there,
showing the row's text, edits applied), every bot message must belong to a delivered row, and
every delivered button acknowledgement must have reached Telegram. A message that belongs to
no row is a duplicate; it is tolerated only as a second copy of a row that was in flight when
the bot was killed (at-least-once delivery: the send went out, the crash came before the row
was marked sent).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from bot.handlers.telegram_split import split_text
from storage.db import Database
from storage.records import Channel, OutboxKind, OutboxStatus
from storage.tables import outbox
from tests.fakes.telegram_api import FakeTelegramAPI, StoredMessage

NEW_MESSAGE = (OutboxKind.SEND, OutboxKind.SEND_PHOTO, OutboxKind.SEND_DOCUMENT, OutboxKind.EDIT)


@dataclass
class ChatReport:
    rows: int = 0
    messages: int = 0
    duplicates: list[int] = field(default_factory=list)
    """Outbox rows whose message is in the chat twice (tolerated ones only)."""
    problems: list[str] = field(default_factory=list)


async def telegram_rows(db: Database) -> list[dict[str, Any]]:
    stmt = sa.select(outbox).where(outbox.c.channel == Channel.TELEGRAM).order_by(outbox.c.id)
    async with db.read() as tx:
        return [dict(row._mapping) for row in await tx.connection.execute(stmt)]


def _as_sent(row: dict[str, Any], message: StoredMessage) -> bool:
    """Whether the message is what the row sends (before any later edit of it)."""
    text = row["payload"].get("text", "")
    if row["kind"] in (OutboxKind.SEND, OutboxKind.EDIT):
        return message.kind == "text" and message.source in split_text(text)
    kind = "photo" if row["kind"] is OutboxKind.SEND_PHOTO else "document"
    return message.kind == kind and (message.source or "") in ("", text)


def compare(
    fake: FakeTelegramAPI, rows: list[dict[str, Any]], tolerated: AbstractSet[int] = frozenset()
) -> ChatReport:
    """Check every chat; `tolerated` are ids of rows that were in flight at a crash."""
    report = ChatReport()
    answered = Counter(call["callback_query_id"] for call in fake.answered_callbacks)
    acknowledged: Counter[str] = Counter()
    chats: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if row["status"] is not OutboxStatus.SENT:
            continue
        report.rows += 1
        if row["kind"] is OutboxKind.ANSWER_CALLBACK:
            callback = str(row["payload"].get("callback_id"))
            acknowledged[callback] += 1
            if answered[callback] != 1:
                times = answered[callback]
                report.problems.append(f"row {row['id']}: press {callback} answered {times}x")
            continue
        chats.setdefault(int(row["chat_id"]), []).append(row)
    report.problems += [
        f"press {c} acknowledged by {n} rows" for c, n in acknowledged.items() if n > 1
    ]
    for chat_id, chat_rows in chats.items():
        _compare_chat(fake, chat_id, chat_rows, tolerated, report)
    return report


def _compare_chat(
    fake: FakeTelegramAPI,
    chat_id: int,
    rows: list[dict[str, Any]],
    tolerated: AbstractSet[int],
    report: ChatReport,
) -> None:
    messages = {m.message_id: m for m in fake.messages(chat_id)}
    report.messages += len(messages)
    owner: dict[int, int] = {}
    last_text: dict[int, str] = {}
    for row in rows:
        if row["kind"] not in NEW_MESSAGE or row["channel_message_id"] is None:
            report.problems.append(f"chat {chat_id} row {row['id']}: no message id")
            continue
        first = int(row["channel_message_id"])
        message = messages.get(first)
        if message is None:
            report.problems.append(f"chat {chat_id} row {row['id']}: message {first} missing")
            continue
        text = row["payload"].get("text", "")
        if row["kind"] is OutboxKind.EDIT and owner.get(first) is not None:
            last_text[first] = text
            continue
        ids = [first]
        if message.media_group_id is not None:
            ids = [i for i, m in messages.items() if m.media_group_id == message.media_group_id]
        elif row["kind"] in (OutboxKind.SEND, OutboxKind.EDIT):
            pieces = len(split_text(text))
            ids = list(range(first - pieces + 1, first + 1))
            last_text[first] = split_text(text)[-1]
        for message_id in ids:
            if message_id in owner:
                report.problems.append(f"chat {chat_id}: message {message_id} of two rows")
            owner[message_id] = row["id"]
    for message_id, text in last_text.items():
        if messages[message_id].source != text:
            report.problems.append(f"chat {chat_id}: message {message_id} does not show its text")
    _duplicates(chat_id, messages, owner, rows, tolerated, report)


def _duplicates(
    chat_id: int,
    messages: dict[int, StoredMessage],
    owner: dict[int, int],
    rows: list[dict[str, Any]],
    tolerated: AbstractSet[int],
    report: ChatReport,
) -> None:
    by_id = {row["id"]: row for row in rows}
    groups: set[str] = set()
    for message_id, message in messages.items():
        if message_id in owner or message.media_group_id in groups:
            continue
        if message.media_group_id is not None:
            groups.add(message.media_group_id)
        following = next((owner[i] for i in sorted(owner) if i > message_id), None)
        row = by_id.get(following) if following is not None else None
        if row is not None and row["id"] in tolerated and _as_sent(row, message):
            report.duplicates.append(row["id"])
        else:
            report.problems.append(
                f"chat {chat_id}: message {message_id} {message.content!r} belongs to no row"
            )
    counted = Counter(report.duplicates)
    report.problems += [f"row {r} delivered {n + 1} times" for r, n in counted.items() if n > 1]
