"""Delivering the outbox: one worker per channel claims due messages and hands them to the
channel's sender; failures are retried with back-off, and nothing is lost on a crash because a
message only leaves the outbox once the channel has accepted it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.reports.request import requested
from storage.db import Database, Tx
from storage.records import Channel, OutboxKind, OutboxMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


class DeliveryError(Exception):
    """A send that failed; `permanent` gives up, `retry_after` overrides the back-off."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: float | None = None):
        super().__init__(reason)
        self.permanent = permanent
        self.retry_after = retry_after


class NotReady(Exception):
    """Raised by a Prepare hook: the row's content is still being made (a report queued
    behind others). The row goes back to the outbox for `retry_after` seconds without counting
    an attempt, and its chat waits while every other chat goes on."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"not ready, retry in {retry_after:.0f} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Delivery:
    message: OutboxMessage
    target_message_id: str | None


Sender = Callable[[Delivery], Awaitable[str | None]]
Prepare = Callable[[OutboxMessage], Awaitable[dict[str, Any]]]
"""Turns a row's payload into the one to send just before sending; a row that asks for a
report file (bot.reports.request) gets the rendered file's sha256 this way."""


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        channel: Channel,
        send: Sender,
        *,
        clock: Callable[[], datetime],
        batch: int = 64,
        idle_seconds: float = 1.0,
        lease_seconds: float = 60.0,
        prepare: Prepare | None = None,
    ) -> None:
        self.db = db
        self.channel = channel
        self.send = send
        self.prepare = prepare
        self.clock = clock
        self.batch = batch
        self.idle_seconds = idle_seconds
        self.lease_seconds = lease_seconds
        self.worker_id = f"{channel.value}-{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-{self.channel.value}")

    async def stop(self) -> None:
        """Finish the chats in hand; whatever is still queued stays in the outbox."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        """Keep up to `batch` chats in flight; a slow chat (a retry, a big file) holds up only
        itself, and new messages are claimed as soon as any chat finishes."""
        inflight: set[asyncio.Task[None]] = set()
        while not self._stopping:
            claimed: list[OutboxMessage] = []
            if len(inflight) < self.batch:
                try:
                    claimed = await self._claim(self.batch - len(inflight))
                except Exception:
                    log.exception("outbox worker %s failed; retrying shortly", self.worker_id)
            for message in claimed:
                task = asyncio.create_task(self._deliver(message))
                inflight.add(task)
                task.add_done_callback(inflight.discard)
                task.add_done_callback(lambda _: self._wake.set())
            if not claimed and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_seconds)
                self._wake.clear()
        if inflight:
            await asyncio.gather(*inflight)

    async def _claim(self, limit: int) -> list[OutboxMessage]:
        async with self.db.transaction() as tx:
            return await tx.outbox.claim(
                self.channel,
                self.clock(),
                limit=limit,
                worker_id=self.worker_id,
                lease_seconds=self.lease_seconds,
            )

    async def run_once(self) -> int:
        """Claim and deliver one batch (each chat's messages in order) and wait for it; returns
        how many chats were started (for tests and tools that step the outbox by hand)."""
        claimed = await self._claim(self.batch)
        await asyncio.gather(*(self._deliver(message) for message in claimed))
        return len(claimed)

    async def _deliver(self, message: OutboxMessage) -> None:
        """Send the chat's messages one after another, in order, each leasing the next."""
        try:
            target = None
            if message.kind is OutboxKind.EDIT:
                async with self.db.read() as tx:
                    target = await _edit_target(tx, message)
            following: tuple[OutboxMessage, str | None] | None = (message, target)
            while following is not None:
                following = await self._deliver_one(*following)
        except Exception:
            log.exception(
                "outbox worker %s: chat %s stopped; its lease will expire and retry",
                self.worker_id,
                message.chat_id,
            )

    async def _deliver_one(
        self, message: OutboxMessage, target: str | None
    ) -> tuple[OutboxMessage, str | None] | None:
        """Send one message; mark it sent and lease the chat's next one (with the message id
        an edit will need) in one transaction."""
        prepared: dict[str, Any] | None = None
        try:
            if self.prepare is not None and requested(message.payload) is not None:
                prepared = await self.prepare(message)
                message = replace(message, payload=prepared)
            elif requested(message.payload) is not None:
                raise DeliveryError("no report renderer for a report file", permanent=True)
            sent_id = await self.send(Delivery(message, target))
        except NotReady as exc:
            async with self.db.transaction() as tx:
                retry_at = self.clock() + timedelta(seconds=exc.retry_after)
                await tx.outbox.defer(message.id, retry_at)
            return None
        except DeliveryError as exc:
            await self._failed(message, exc)
            return None
        except Exception as exc:
            log.exception("unexpected error delivering outbox message %s", message.id)
            await self._failed(message, DeliveryError(exc.__class__.__name__))
            return None
        async with self.db.transaction() as tx:
            await tx.outbox.mark_sent(message.id, sent_id, payload=prepared)
            if self._stopping:
                return None
            following = await tx.outbox.claim_next_in_chat(
                message, self.clock(), worker_id=self.worker_id, lease_seconds=self.lease_seconds
            )
            if following is None:
                return None
            return following, await _edit_target(tx, following)

    async def _failed(self, message: OutboxMessage, error: DeliveryError) -> None:
        dead = error.permanent or message.attempts >= MAX_ATTEMPTS
        delay = error.retry_after if error.retry_after is not None else 2**message.attempts
        log.warning(
            "outbox message %s to %s chat %s failed (attempt %s%s): %s",
            message.id,
            message.channel.value,
            message.chat_id,
            message.attempts,
            ", giving up" if dead else "",
            error,
        )
        async with self.db.transaction() as tx:
            await tx.outbox.mark_failed(
                message.id,
                str(error),
                retry_at=self.clock() + timedelta(seconds=delay),
                dead=dead,
            )


async def _edit_target(tx: Tx, message: OutboxMessage) -> str | None:
    """The channel's id of the message an edit row replaces (None: send it as new)."""
    if message.kind is not OutboxKind.EDIT or not message.edit_of_ref:
        return None
    return await tx.outbox.message_id_for_ref(message.channel, message.chat_id, message.edit_of_ref)
