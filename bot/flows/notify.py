"""Queueing messages for a person on every chat they are bound to (used by flows and the
scheduler alike)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core.messages import Button, Outgoing, Photo, album
from bot.core.texts import render
from storage.db import Tx
from storage.records import Identity, OutboxKind

Keyboard = Sequence[Sequence[Button]]
Album = tuple[str, Sequence[Photo]]
"""A caption (e.g. 整改前（2 张）) and the photos it labels, sent as one album."""


async def to_person(
    tx: Tx,
    person_id: int,
    template: str,
    buttons: Keyboard = (),
    photos: Sequence[Photo] = (),
    albums: Sequence[Album] = (),
    **values: Any,
) -> int:
    """Send to every chat the person is bound to; returns how many chats got it (0: unbound).
    The photos (one album) and the captioned albums go before the text."""
    shown = [("", photos), *albums]
    messages = [album(caption, photos) for caption, photos in shown if photos]
    messages.append(message(template, buttons, **values))
    return await all_to_person(tx, person_id, messages)


def message(template: str, buttons: Keyboard = (), **values: Any) -> Outgoing:
    """The text `template` renders, with its buttons."""
    rows = tuple(tuple(row) for row in buttons)
    return Outgoing(kind=OutboxKind.SEND, text=render(template, **values), buttons=rows)


async def all_to_person(tx: Tx, person_id: int, messages: Sequence[Outgoing]) -> int:
    """Send `messages`, in order, to every chat the person is bound to; returns how many
    chats got them."""
    return in_chats(tx, person_id, await tx.identities.for_person(person_id), messages)


def in_chats(
    tx: Tx, person_id: int, identities: Sequence[Identity], messages: Sequence[Outgoing]
) -> int:
    """Send `messages`, in order, to the person's chats among `identities` (their bindings,
    read once for several sends); returns how many chats got them."""
    chats = [(i.channel, i.chat_id) for i in identities if i.chat_id is not None]
    for channel, chat_id in chats:
        for m in messages:
            tx.outbox.add(channel, chat_id, m.kind, m.to_payload(), person_id=person_id)
    return len(chats)
