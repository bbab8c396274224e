"""What the database forgets, and when: the hourly retention job (docs/RELIABILITY.md).

Kept for good: the audit trail (audit_log, task_events) and everything a person entered
(answers and their revisions, notes, evidence, tasks, extension requests, the web chat's
transcript with what the person typed). Forgotten once it has no further use:

- Callback answers, a day after they were queued (delivered or given up on): they only
  acknowledged a press. Every press of a stale button stored one.
- Telegram and WeCom messages (sends, edits, photos, documents), 90 days after they were
  queued: the bot's own words, of which the chat app keeps its copy. A message whose `ref` a
  conversation still holds stays: edits take their ref from the conversation's state and find
  the message they replace by it. The web chat's messages stay: they are its transcript.
- Processed event keys, after 30 days: a key forgotten could be handled again, so the window
  is far longer than any channel redelivers (Telegram keeps an update for 24 hours, WeCom
  retries within seconds, the web page retries its POST while it is open).

Pending outbox rows are never touched. Each hour's run is claimed with an event key, so of
several bot processes on one database one does it; every batch is its own transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.db import Database
from storage.errors import DuplicateEvent
from storage.records import Channel, OutboxKind

CALLBACK_ANSWER_DAYS = 1
MESSAGE_DAYS = 90
EVENT_KEY_DAYS = 30
MESSAGE_KINDS = (
    OutboxKind.SEND,
    OutboxKind.EDIT,
    OutboxKind.SEND_PHOTO,
    OutboxKind.SEND_DOCUMENT,
)
# The web chat's transcript is its outbox: its messages are not forgotten.
MESSAGE_CHANNELS = (Channel.TELEGRAM, Channel.WECOM, Channel.WECOM_GROUP)


@dataclass
class Forgotten:
    """What one run forgot."""

    callback_answers: int = 0
    messages: int = 0
    event_keys: int = 0


def _strings(value: Any) -> Iterator[str]:
    """Every string in a conversation's state (the refs it holds among them)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


class Retention:
    """The job: `run` once an hour (bot.scheduler.Scheduler); `forget` does the work."""

    def __init__(self, db: Database, clock: Callable[[], datetime], *, batch: int = 1000) -> None:
        self.db = db
        self.clock = clock
        self.batch = batch

    async def run(self, now: datetime | None = None) -> Forgotten | None:
        """This hour's run; None when another process has claimed it."""
        moment = now or self.clock()
        try:
            async with self.db.transaction(f"job:retention:{moment.astimezone(UTC):%Y-%m-%dT%H}"):
                pass
        except DuplicateEvent:
            return None
        return await self.forget(moment)

    async def forget(self, now: datetime) -> Forgotten:
        """Forget everything past its retention at `now`."""
        forgotten = Forgotten()
        async with self.db.read() as tx:
            held = {text for state in await tx.conversations.states() for text in _strings(state)}
        answers_before = now - timedelta(days=CALLBACK_ANSWER_DAYS)
        for channel in Channel:
            forgotten.callback_answers += await self._outbox(
                channel, OutboxKind.ANSWER_CALLBACK, answers_before, frozenset()
            )
        messages_before = now - timedelta(days=MESSAGE_DAYS)
        for channel in MESSAGE_CHANNELS:
            for kind in MESSAGE_KINDS:
                forgotten.messages += await self._outbox(channel, kind, messages_before, held)
        forgotten.event_keys = await self._event_keys(now - timedelta(days=EVENT_KEY_DAYS))
        return forgotten

    async def _outbox(
        self, channel: Channel, kind: OutboxKind, before: datetime, keep: AbstractSet[str]
    ) -> int:
        deleted = skipped = 0
        while True:
            async with self.db.transaction() as tx:
                gone, kept = await tx.outbox.forget(
                    channel, kind, before, keep_refs=keep, skip=skipped, limit=self.batch
                )
            deleted += gone
            skipped += kept
            if gone + kept < self.batch:
                return deleted
            await asyncio.sleep(0)

    async def _event_keys(self, before: datetime) -> int:
        pruned = 0
        while True:
            async with self.db.transaction() as tx:
                count = await tx.events.prune(before, limit=self.batch)
            pruned += count
            if count < self.batch:
                return pruned
            await asyncio.sleep(0)
