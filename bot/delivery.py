"""Delivering the outbox: one worker per channel claims due messages and hands them to the
channel's sender; failures are retried with back-off, and nothing is lost on a crash because a
message only leaves the outbox once the channel has accepted it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from bot.core.messages import Outgoing
from bot.core.report_request import needs_preparing
from storage.db import Database, Tx
from storage.outbox import SentMark
from storage.records import Channel, OutboxKind, OutboxMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Messages sent are marked sent together, this long after the first of them was sent: one
# transaction for a tap's answer, edit and next message, and none in the way of the next tap.
MARK_AFTER = 0.002


class DeliveryError(Exception):
    """A send that failed; `permanent` gives up, `retry_after` overrides the back-off."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        logged: bool = False,
    ):
        super().__init__(reason)
        self.permanent = permanent
        self.retry_after = retry_after
        self.logged = logged
        """The sender already said why (a group that removed the bot): no warning here."""


class NotReady(Exception):
    """Raised by a Prepare hook: the row's content is still being made (a report queued
    behind others). The row goes back to the outbox for `retry_after` seconds without counting
    an attempt, and its chat waits while every other chat goes on."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"not ready, retry in {retry_after:.0f} s")
        self.retry_after = retry_after


def outgoing(message: OutboxMessage) -> Outgoing:
    """An outbox row's message, typed."""
    return Outgoing.from_payload(
        message.payload, message.kind, ref=message.ref, edit_ref=message.edit_of_ref
    )


@dataclass(frozen=True)
class Delivery:
    message: OutboxMessage
    target_message_id: str | None

    @cached_property
    def outgoing(self) -> Outgoing:
        """The message to send, typed (as prepared, when the row's files were made)."""
        return outgoing(self.message)


Sender = Callable[[Delivery], Awaitable[str | None]]
Prepare = Callable[[OutboxMessage], Awaitable[dict[str, Any]]]
"""Turns a row's payload into the one to send just before sending; a row that asks for a
report file, a 通报 or watermarked photos (bot.core.report_request) gets the rendered files'
sha256 this way."""


@dataclass(frozen=True)
class _Mark:
    message_id: int
    chat_id: str
    ref: str | None
    channel_message_id: str | None
    payload: dict[str, Any] | None


@dataclass
class _Chain:
    """A chat's due messages, leased together, and the channel ids of the messages its
    edits replace (those sent before this chain; the chain adds its own as it goes)."""

    messages: list[OutboxMessage]
    targets: dict[str, str | None]


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        channel: Channel,
        send: Sender,
        *,
        clock: Callable[[], datetime],
        batch: int = 64,
        chain: int = 16,
        independent: frozenset[OutboxKind] = frozenset(),
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
        self.chain = chain
        self.independent = independent
        self.idle_seconds = idle_seconds
        self.lease_seconds = lease_seconds
        self.worker_id = f"{channel.value}-{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._marks: list[_Mark] = []
        self._marker: asyncio.Task[None] | None = None
        self._full = False
        self._inflight: set[asyncio.Task[None]] = set()
        # The chains this worker claimed (handed-over ones do not take a claim's slot).
        self._claimed: set[asyncio.Task[None]] = set()
        # Sent, but the transaction marking them sent has not committed yet, by outbox id.
        self._unmarked: dict[int, _Mark] = {}

    def wake(self) -> None:
        self._wake.set()

    def _slot_freed(self, _: object) -> None:
        if self._full:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-{self.channel.value}")

    async def stop(self) -> None:
        """Finish the chats in hand; whatever is still queued stays in the outbox."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await self._marked()

    async def _run(self) -> None:
        """Keep up to `batch` claimed chats in flight; a slow chat (a retry, a big file) holds
        up only itself, and new messages are claimed as soon as any chat finishes. Chats
        handed over by `Handoff` come on top: under load they are most chats, and counting
        them left the chats that still need a claim waiting for seconds."""
        while not self._stopping:
            self._wake.clear()
            claimed: list[_Chain] = []
            limit = self.batch - len(self._claimed)
            if limit > 0:
                try:
                    claimed = await self._claim(limit)
                except Exception:
                    log.exception("outbox worker %s failed; retrying shortly", self.worker_id)
            # Other chats may be due when every free slot was taken: claim again as soon as
            # one frees. (A chat whose messages were sent is due again once they are marked
            # sent, which wakes the worker; so do new messages and failures.)
            self._full = len(claimed) >= limit
            for task in self.deliver(claimed):
                self._claimed.add(task)
                task.add_done_callback(self._claimed.discard)
                task.add_done_callback(self._slot_freed)
            if not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_seconds)
        while self._inflight:
            await asyncio.gather(*self._inflight)

    def deliver(self, chains: list[_Chain]) -> list[asyncio.Task[None]]:
        """Start sending each leased chain (claimed here or handed over by `Handoff`)."""
        tasks = []
        for chain in chains:
            task = asyncio.create_task(self._deliver(chain))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            tasks.append(task)
        return tasks

    async def lease_queued(self, tx: Tx) -> list[_Chain]:
        """Lease, inside `tx`, the messages it queued for this channel whose chats have
        nothing older pending (see `OutboxRepo.lease_queued`); `deliver` them once it has
        committed. Nothing while stopping: those stay queued for the next start."""
        if self._stopping or self._task is None:
            return []
        leased = await tx.outbox.lease_queued(
            self.channel,
            self.clock(),
            limit=self.chain,
            worker_id=self.worker_id,
            lease_seconds=self.lease_seconds,
            alongside=self.independent,
            sent=self._unmarked.keys(),
        )
        chains = []
        for messages in leased:
            targets = await _edit_targets(tx, messages)
            for mark in sorted(self._unmarked.values(), key=lambda m: m.message_id):
                if mark.ref in targets and mark.chat_id == messages[0].chat_id:
                    targets[mark.ref] = mark.channel_message_id
            chains.append(_Chain(messages, targets))
        return chains

    async def _claim(self, limit: int) -> list[_Chain]:
        """Lease the oldest due message of up to `limit` chats, each with the due messages
        behind it, and read the channel ids their edits need, in one transaction."""
        now = self.clock()
        chains: list[_Chain] = []
        async with self.db.transaction() as tx:
            firsts = await tx.outbox.claim(
                self.channel,
                now,
                limit=limit,
                worker_id=self.worker_id,
                lease_seconds=self.lease_seconds,
            )
            for first in firsts:
                following = await tx.outbox.claim_following(
                    first,
                    now,
                    limit=self.chain - 1,
                    worker_id=self.worker_id,
                    lease_seconds=self.lease_seconds,
                )
                messages = [first, *following]
                chains.append(_Chain(messages, await _edit_targets(tx, messages)))
        return chains

    async def run_once(self) -> int:
        """Claim and deliver one batch (each chat's messages in order) and wait for it; returns
        how many chats were started (for tests and tools that step the outbox by hand)."""
        claimed = await self._claim(self.batch)
        await asyncio.gather(*(self._deliver(chain) for chain in claimed))
        await self._marked()
        return len(claimed)

    async def _deliver(self, chain: _Chain) -> None:
        """Send the chat's messages in order: each waits for the one before it, except the
        kinds in `independent`, which wait only for the message they edit (when this chain
        sends it). Those in order are started first: the message the person waits for (the
        next question) goes out before the button's answer and the edit of the last one. Each
        one sent is marked in the background (:meth:`_mark`), so the next goes out at once;
        one that fails or is not ready holds back those waiting for it, and they are given
        back untried."""
        messages = chain.messages
        waits: list[int | None] = []
        previous: int | None = None
        by_ref: dict[str, int] = {}
        for index, message in enumerate(messages):
            in_order = message.kind not in self.independent
            edited = message.edit_of_ref if message.kind is OutboxKind.EDIT else None
            waits.append(previous if in_order else by_ref.get(edited) if edited else None)
            if in_order:
                previous = index
            for ref in (message.ref, edited):
                if ref:
                    by_ref[ref] = index
        tasks: dict[int, asyncio.Task[bool | None]] = {}
        try:
            independent_last = sorted(
                range(len(messages)), key=lambda i: (messages[i].kind in self.independent, i)
            )
            for index in independent_last:
                wait = waits[index]
                after = tasks[wait] if wait is not None else None
                tasks[index] = asyncio.create_task(
                    self._deliver_after(after, messages[index], chain)
                )
            waiting = [(message, tasks[index]) for index, message in enumerate(messages)]
            outcomes = await asyncio.gather(*(task for _, task in waiting))
            untried = [m for (m, _), sent in zip(waiting, outcomes, strict=True) if sent is None]
            await self._release(untried)
        except Exception:
            log.exception(
                "outbox worker %s: chat %s stopped; its lease will expire and retry",
                self.worker_id,
                chain.messages[0].chat_id,
            )

    async def _deliver_after(
        self, after: asyncio.Task[bool | None] | None, message: OutboxMessage, chain: _Chain
    ) -> bool | None:
        """True once sent, False if it failed (and is handled), None if not tried."""
        if after is not None and not await after:
            return None
        if self._stopping and after is not None:
            return None
        target = None
        if message.kind is OutboxKind.EDIT and message.edit_of_ref:
            target = chain.targets.get(message.edit_of_ref)
        sent = await self._deliver_one(message, target)
        if sent is None:
            return False
        if message.ref:
            chain.targets[message.ref] = sent[0]
        return True

    async def _deliver_one(
        self, message: OutboxMessage, target: str | None
    ) -> tuple[str | None] | None:
        """Send one message; returns (its channel id,) once sent, None if it was not."""
        prepared: dict[str, Any] | None = None
        try:
            if self.prepare is not None and needs_preparing(message.payload):
                prepared = await self.prepare(message)
                message = replace(message, payload=prepared)
            elif needs_preparing(message.payload):
                raise DeliveryError("no renderer for a report file, 通报 or photo", permanent=True)
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
        self._mark(_Mark(message.id, message.chat_id, message.ref, sent_id, prepared))
        return (sent_id,)

    def _mark(self, mark: _Mark) -> None:
        """Record a sent message; marks are written together, in the background."""
        self._marks.append(mark)
        self._unmarked[mark.message_id] = mark
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._write_marks())

    async def _write_marks(self) -> None:
        """Mark sent whatever was sent meanwhile, in one transaction, until nothing is left.
        A message sent but not yet marked when the process dies is sent again after its
        lease runs out (the at-least-once window is this write, a few milliseconds).

        They wait MARK_AFTER first (see there); a hand-off meanwhile counts them as sent
        (`_unmarked`). A chat with messages waiting behind those marked (neither handed over
        nor claimed yet) is due now: the worker is woken to claim it."""
        await asyncio.sleep(MARK_AFTER)
        while self._marks:
            marks, self._marks = self._marks, []
            try:
                async with self.db.transaction() as tx:
                    # Marked in id order (mark_sent_many), as every transaction that locks
                    # outbox rows takes them, so two of them never wait for each other (a
                    # deadlock on PostgreSQL).
                    await tx.outbox.mark_sent_many(
                        SentMark(mark.message_id, mark.channel_message_id, mark.payload)
                        for mark in marks
                    )
                    chats = {mark.chat_id for mark in marks}
                    waiting = await tx.outbox.any_waiting(self.channel, chats)
            except Exception:
                if self._stopping:
                    log.exception(
                        "outbox worker %s: %d message(s) sent but not marked; they will be "
                        "sent again after a restart",
                        self.worker_id,
                        len(marks),
                    )
                    return
                log.exception("outbox worker %s: marking sent failed; retrying", self.worker_id)
                self._marks[:0] = marks
                await asyncio.sleep(1.0)
                continue
            for mark in marks:
                self._unmarked.pop(mark.message_id, None)
            if waiting:
                self._wake.set()

    async def _marked(self) -> None:
        """Wait until every message sent so far is marked sent."""
        while self._marks or (self._marker is not None and not self._marker.done()):
            if self._marker is None or self._marker.done():
                self._marker = asyncio.create_task(self._write_marks())
            await self._marker

    async def _release(self, messages: list[OutboxMessage]) -> None:
        if not messages:
            return
        async with self.db.transaction() as tx:
            await tx.outbox.release_many(message.id for message in messages)
        self._wake.set()

    async def _failed(self, message: OutboxMessage, error: DeliveryError) -> None:
        dead = error.permanent or message.attempts >= MAX_ATTEMPTS
        delay = error.retry_after if error.retry_after is not None else 2**message.attempts
        if not error.logged:
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
        self._wake.set()


@dataclass(frozen=True)
class Handed:
    """What `Handoff.lease` leased in a transaction, and the channels left to the claims."""

    chains: list[tuple[OutboxWorker, list[_Chain]]]
    wake: frozenset[Channel]


class Handoff:
    """Hands the messages a transaction queues to this process's outbox workers.

    Inside the transaction (`lease`) each worker leases its channel's new messages, chat by
    chat, when nothing older of the chat is pending; once the transaction has committed
    (`committed`) those chats are sent at once. The worker's own claim transaction and the
    wait for it to wake are left out of the path between a tap and the bot's answer (about a
    quarter of it, docs/BENCHMARKS.md). Messages not handed over (a chat with older
    messages pending, a message not due yet, a channel without a worker in this process)
    stay for the workers' claims: their channels' workers are woken.
    """

    def __init__(self, workers: Mapping[Channel, OutboxWorker]) -> None:
        self.workers = workers

    async def lease(self, tx: Tx) -> Handed:
        chains: list[tuple[OutboxWorker, list[_Chain]]] = []
        left: set[Channel] = set()
        for channel in tx.queued_channels:
            worker = self.workers.get(channel)
            leased = await worker.lease_queued(tx) if worker is not None else []
            if worker is not None and leased:
                chains.append((worker, leased))
            handed = sum(len(chain.messages) for chain in leased)
            if handed < tx.queued_count(channel):
                left.add(channel)
        return Handed(chains, frozenset(left))

    def committed(self, handed: Handed) -> None:
        for worker, chains in handed.chains:
            worker.deliver(chains)
        for channel in handed.wake:
            if channel in self.workers:
                self.workers[channel].wake()


async def _edit_targets(tx: Tx, messages: list[OutboxMessage]) -> dict[str, str | None]:
    """The channel ids of the messages the chain's edits replace that were sent before it
    (an edit of a message sent earlier in the chain uses the id that send returns)."""
    targets: dict[str, str | None] = {}
    made_here: set[str] = set()
    for message in messages:
        ref = message.edit_of_ref
        if message.kind is OutboxKind.EDIT and ref and ref not in made_here and ref not in targets:
            targets[ref] = await tx.outbox.message_id_for_ref(message.channel, message.chat_id, ref)
        if message.ref:
            made_here.add(message.ref)
    return targets
