"""Per-member pacing of WeCom sends.

WeCom accepts at most 30 application messages per minute for one member and silently drops
the rest (it still answers ``errcode 0``), so the sender must never exceed it: a message that
does not fit is delayed, never dropped. Each member has a sliding window of the times its last
sends completed. A send is recorded when its request has finished, which is no earlier than
WeCom saw it, so network latency cannot make two sends look further apart to us than to WeCom;
the default window adds one second of margin on top of WeCom's minute.

The window is per process. One member's messages are sent one at a time (the outbox hands out
only the oldest pending message of a chat, and a WeCom app chat is one member), so no lock is
needed here; several bot processes sending to the same member would each need their share.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

MEMBER_LIMIT = 30
WINDOW_SECONDS = 61.0


class MemberPacer:
    """At most ``limit`` sends per member in any ``window`` seconds; callers wait for room."""

    def __init__(
        self,
        *,
        limit: int = MEMBER_LIMIT,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limit = limit
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
