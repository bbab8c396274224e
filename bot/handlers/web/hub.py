"""Live delivery to open pages: each page's event stream subscribes to its chat."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

Event = tuple[str, dict[str, Any]]


class Subscription:
    """One open event stream; `None` in the queue closes it."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(size)
        self.overflowed = False

    def put(self, item: Event | None) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # The page fell behind: it reconnects and catches up from the transcript.
            self.overflowed = True


class Hub:
    def __init__(self, queue_size: int = 512) -> None:
        self.queue_size = queue_size
        self._subscriptions: defaultdict[str, set[Subscription]] = defaultdict(set)

    @contextmanager
    def subscribe(self, chat_id: str) -> Iterator[Subscription]:
        subscription = Subscription(self.queue_size)
        self._subscriptions[chat_id].add(subscription)
        try:
            yield subscription
        finally:
            subscribers = self._subscriptions[chat_id]
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscriptions[chat_id]

    def publish(self, chat_id: str, event: Event) -> None:
        for subscription in self._subscriptions.get(chat_id, ()):
            subscription.put(event)

    def close_all(self) -> None:
        for subscribers in self._subscriptions.values():
            for subscription in subscribers:
                subscription.overflowed = True
                subscription.put(None)
