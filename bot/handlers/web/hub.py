"""Live delivery to open pages: each page's event stream subscribes to its chat. A chat (one
person) has at most MAX_STREAMS open: a new one closes the oldest, so a link held open many
times over costs no more than a few tabs."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

Event = tuple[str, dict[str, Any]]
MAX_STREAMS = 5


class Subscription:
    """One open event stream; `None` in the queue closes it."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(size)
        self.overflowed = False
        self.closed = False

    def put(self, item: Event | None) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # The page fell behind: it reconnects and catches up from the transcript.
            self.overflowed = True

    def close(self) -> None:
        """End the stream (a full queue is not waited for: the stream checks `closed`)."""
        self.closed = True
        self.put(None)


class Hub:
    def __init__(self, queue_size: int = 512, max_streams: int = MAX_STREAMS) -> None:
        self.queue_size = queue_size
        self.max_streams = max_streams
        # Per chat, its subscriptions oldest first (a dict keeps the order).
        self._subscriptions: defaultdict[str, dict[Subscription, None]] = defaultdict(dict)

    @contextmanager
    def subscribe(self, chat_id: str) -> Iterator[Subscription]:
        subscription = Subscription(self.queue_size)
        subscribers = self._subscriptions[chat_id]
        while len(subscribers) >= self.max_streams:
            oldest = next(iter(subscribers))
            del subscribers[oldest]
            oldest.close()
        subscribers[subscription] = None
        try:
            yield subscription
        finally:
            subscribers = self._subscriptions[chat_id]
            subscribers.pop(subscription, None)
            if not subscribers:
                del self._subscriptions[chat_id]

    def publish(self, chat_id: str, event: Event) -> None:
        for subscription in self._subscriptions.get(chat_id, ()):
            subscription.put(event)

    def publish_all(self, event: Event) -> None:
        for subscribers in self._subscriptions.values():
            for subscription in subscribers:
                subscription.put(event)

    def close_all(self) -> None:
        for subscribers in self._subscriptions.values():
            for subscription in subscribers:
                subscription.overflowed = True
                subscription.put(None)
