"""Handling incoming updates chat by chat: different chats concurrently, one chat's updates
strictly in the order they arrived (a tap must not overtake the tap before it)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[None]]
T = TypeVar("T")


class PerChat:
    """One task per chat that has work queued; it runs the chat's work in order and ends
    when its queue is empty. Work that raises is logged and the chat goes on with the next."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._queues: dict[Hashable, deque[Work]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: dict[Hashable, asyncio.Task[None]] = {}
        self._in_hand = 0
        self._below = asyncio.Event()
        self._below.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._limit = 0

    @property
    def in_hand(self) -> int:
        """Work queued or running, over all chats."""
        return self._in_hand

    def submit(self, chat: Hashable, work: Work) -> None:
        self._in_hand += 1
        self._check()
        queue = self._queues.get(chat)
        if queue is not None:
            queue.append(work)
            return
        self._queues[chat] = deque([work])
        task = asyncio.create_task(self._drain(chat), name=f"{self.name}-{chat}")
        self._tasks.add(task)
        self._running[chat] = task
        task.add_done_callback(self._tasks.discard)

    async def run(self, chat: Hashable, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` in the chat's turn and wait for it: its result, or what it raised (the
        caller is told, so nothing is logged here)."""
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        async def turn() -> None:
            try:
                result = await work()
            except Exception as exc:
                if not done.done():
                    done.set_exception(exc)
            else:
                if not done.done():
                    done.set_result(result)

        self.submit(chat, turn)
        # Should the chat's task be cancelled before `work` ran, the caller is not left waiting.
        self._running[chat].add_done_callback(lambda _: done.cancel())
        return await done

    async def below(self, limit: int) -> None:
        """Wait until fewer than `limit` pieces of work are in hand (back-pressure for a
        receiver that could otherwise take updates faster than they are handled)."""
        self._limit = limit
        self._check()
        await self._below.wait()

    async def idle(self) -> None:
        """Wait until no work is in hand."""
        await self._idle.wait()

    async def join(self) -> None:
        """Wait until every piece of work submitted so far has run."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _drain(self, chat: Hashable) -> None:
        queue = self._queues[chat]
        try:
            while queue:
                try:
                    await queue[0]()
                except Exception:
                    log.exception("%s: handling an update of chat %s failed", self.name, chat)
                queue.popleft()
                self._in_hand -= 1
                self._check()
        finally:
            self._in_hand -= len(queue)
            del self._queues[chat]
            del self._running[chat]
            self._check()

    def _check(self) -> None:
        if self._limit and self._in_hand >= self._limit:
            self._below.clear()
        else:
            self._below.set()
        if self._in_hand:
            self._idle.clear()
        else:
            self._idle.set()
