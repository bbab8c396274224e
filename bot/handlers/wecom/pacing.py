"""Per-member pacing of WeCom sends.

WeCom accepts at most 30 application messages per minute for one member and silently drops
the rest (it still answers ``errcode 0``), so the sender must never exceed it: a message that
does not fit is delayed, never dropped. Each member has a sliding window of the times its last
sends completed. A send is recorded when its request has finished, which is no earlier than
WeCom saw it, so network latency cannot make two sends look further apart to us than to WeCom;
the default window adds one second of margin on top of WeCom's minute.

One member's messages are sent one at a time (the outbox hands out only the oldest pending
message of a chat, and a WeCom app chat is one member), so no lock is needed within a process.
With several processes on one PostgreSQL, a process sends to a member only while it owns the
member (`claim`: a session advisory lock per member, given back once the member's window is
empty), so the one window that counts is the owner's; the others leave the member's messages
queued for a few seconds. A process that dies takes its window with it: the next owner starts
with an empty one, so right after a crash one member may get up to twice the limit in that
minute.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from storage.coordination import LockSet, is_postgres

MEMBER_LIMIT = 30
WINDOW_SECONDS = 61.0


def member_locks(url: str) -> LockSet | None:
    """The per-member locks of a database several processes may share (PostgreSQL)."""
    return LockSet(url, "wecom-member") if is_postgres(url) else None


class MemberPacer:
    """At most ``limit`` sends per member in any ``window`` seconds; callers wait for room."""

    def __init__(
        self,
        *,
        limit: int = MEMBER_LIMIT,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        owners: LockSet | None = None,
    ) -> None:
        self.limit = limit
        self.owners = owners
        self._owned: set[str] = set()
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: dict[str, deque[float]] = {}

    def _recent(self, member: str) -> deque[float]:
        sent = self._sent.get(member)
        if sent is None:
            return deque()
        horizon = self._clock() - self.window
        while sent and sent[0] <= horizon:
            sent.popleft()
        if not sent:
            del self._sent[member]
        return sent

    async def claim(self, member: str) -> bool:
        """Whether this process may send to `member` now (always, without `owners`); members
        whose windows have emptied are given back first."""
        if self.owners is None:
            return True
        for idle in [m for m in self._owned if m != member and not self._recent(m)]:
            self._owned.discard(idle)
            await self.owners.unlock(idle)
        if await self.owners.try_lock(member):
            self._owned.add(member)
            return True
        return False

    def delay(self, member: str, count: int = 1) -> float:
        """Seconds until ``count`` more sends to ``member`` fit (0 if they fit now).

        ``count`` above the limit is treated as the limit: such a batch is paced send by send.
        """
        need = min(max(count, 1), self.limit)
        sent = self._recent(member)
        excess = len(sent) + need - self.limit
        if excess <= 0:
            return 0.0
        return max(sent[excess - 1] + self.window - self._clock(), 0.0)

    @asynccontextmanager
    async def slot(self, member: str) -> AsyncIterator[None]:
        """Wait until one more send to ``member`` fits, then record it when the send is done.

        The send is recorded even when it failed: it may have reached WeCom all the same.
        """
        while (wait := self.delay(member)) > 0:
            await self._sleep(wait)
        try:
            yield
        finally:
            self._sent.setdefault(member, deque()).append(self._clock())
