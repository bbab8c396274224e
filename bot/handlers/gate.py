"""The one way in for every channel adapter.

An adapter translates its platform's update into an `Arrival` (a channel-neutral `Incoming`
event, plus what must be fetched before the flows can have it) and hands it to its `Gate`,
in the chat's turn. The gate then does what every channel needs, once:

* per-chat ordering: one chat's arrivals strictly in order, chats concurrently (`PerChat`);
* the already-seen check: an event whose key was handled before is dropped before anything
  is fetched for it (a file, what a typed number stands for); an event with nothing to fetch
  goes straight to the flows, whose transaction refuses a handled key (one read fewer per tap);
* the bound-person check: only a bound person's event has anything fetched (a stranger's
  photo is never downloaded; the flows answer them with the invite / refusal);
* command parsing: typed text `/name args` becomes a command;
* the event key: `Incoming.event_key`, the one the flows record the event under.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, replace
from typing import TypeVar

from bot.core.events import Channel, EventKind, Incoming
from bot.flows.router import FlowEngine
from bot.handlers.per_chat import PerChat, Work
from storage.db import Database

log = logging.getLogger(__name__)

T = TypeVar("T")
Fetch = Callable[[Incoming], Awaitable[Incoming | None]]
"""Completes an event (downloads its file, looks up the payload a typed number stands for);
None when that failed and the adapter has told the person why."""


@dataclass(frozen=True)
class Arrival:
    """An update translated into channel-neutral terms, not yet handed to the flows."""

    event: Incoming
    fetch: Fetch | None = None
    """Run only for a bound person's event not handled before; without it `event` goes on as
    it is (a file left unfetched: `StoredFile.sha256` None)."""


def parse_command(text: str) -> tuple[str, str] | None:
    """`/name args` as (name, args): the name lower-cased and without the `@bot` suffix
    Telegram adds in groups; None for text that is not a command."""
    if not text.startswith("/"):
        return None
    head, _, args = text.partition(" ")
    return head[1:].split("@", 1)[0].lower(), args.strip()


def as_command(event: Incoming) -> Incoming:
    """The event with typed `/name args` text read as that command."""
    if event.kind is not EventKind.TEXT:
        return event
    parsed = parse_command(event.text)
    if parsed is None:
        return event
    command, args = parsed
    return replace(event, kind=EventKind.COMMAND, text="", command=command, args=args)


class Gate:
    """One channel's entry: its chats' turns and the checks every arrival goes through."""

    def __init__(self, channel: Channel, engine: FlowEngine, db: Database) -> None:
        self.channel = channel
        self.engine = engine
        self.db = db
        self.chats = PerChat(channel.value)

    def submit(self, chat: Hashable, work: Work) -> None:
        """Queue `work` in the chat's turn (failures are logged, the chat goes on)."""
        self.chats.submit(chat, work)

    async def run(self, chat: Hashable, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` in the chat's turn and wait for what it returns or raises."""
        return await self.chats.run(chat, work)

    async def drain(self) -> None:
        """Wait until every arrival queued so far has been handled."""
        await self.chats.join()

    async def handle(self, arrival: Arrival, *, group: bool = False) -> Incoming | None:
        """Hand one arrival to the flows; call it in its chat's turn. The event handed over,
        or None when nothing was (a redelivery caught before fetching, a failed fetch).
        `group`: a command sent in a group chat (bot.flows.group_binding)."""
        event = as_command(arrival.event)
        if arrival.fetch is not None:
            async with self.db.read() as tx:
                if await tx.events.seen(event.event_key):
                    log.info("%s: redelivered event %s ignored", self.channel.value, event.key)
                    return None
                bound = await tx.identities.resolve(event.channel, event.user_id) is not None
            if bound:
                fetched = await arrival.fetch(event)
                if fetched is None:
                    return None
                event = fetched
        await self.engine.handle(event, group=group)
        return event
