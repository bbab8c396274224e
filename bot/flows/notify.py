"""Queueing messages for a person on every chat they are bound to (used by flows and the
scheduler alike)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core.messages import Button, Outgoing, Photo, album
from bot.core.texts import render
from storage.db import Tx
from storage.records import OutboxKind

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
    text = render(template, **values)
    rows = tuple(tuple(row) for row in buttons)
    shown = [("", photos), *albums]
    count = 0
    for identity in await tx.identities.for_person(person_id):
        if identity.chat_id is None:
            continue
        messages = [album(caption, photos) for caption, photos in shown if photos]
        messages.append(Outgoing(kind=OutboxKind.SEND, text=text, buttons=rows))
        for message in messages:
            await tx.outbox.enqueue(
                identity.channel,
                identity.chat_id,
                message.kind,
                message.to_payload(),
                person_id=person_id,
            )
        count += 1
    return count
