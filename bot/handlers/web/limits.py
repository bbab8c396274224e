"""What one person, or one client address, may ask of the web chat in a while: uploads per
person (files and bytes) and failed sign-ins per address. Counted in this process's memory
over a sliding window: a restart forgets, and several bot processes each count their own."""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

MAX_KEYS = 10_000
"""Keys kept: past this, keys with nothing left in the window go, then the least recently
used (an address rotated per request is a key each; it could not do much with its share)."""


@dataclass(frozen=True)
class Used:
    count: int
    amount: int
    wait_seconds: float
    """Until the oldest entry leaves the window (0 when there is none)."""


class Window:
    """Entries (a time and an amount) per key over the last `seconds`."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._entries: OrderedDict[Hashable, deque[tuple[float, int]]] = OrderedDict()

    def add(self, key: Hashable, amount: int = 1) -> Used:
        now = self.clock()
        entries = self._current(key, now)
        if entries is None:
            if len(self._entries) >= MAX_KEYS:
                self._prune(now)
            entries = self._entries[key] = deque()
        entries.append((now, amount))
        self._entries.move_to_end(key)
        return self._used(entries, now)

    def used(self, key: Hashable) -> Used:
        now = self.clock()
        return self._used(self._current(key, now) or deque(), now)

    def _current(self, key: Hashable, now: float) -> deque[tuple[float, int]] | None:
        entries = self._entries.get(key)
        if entries is None:
            return None
        while entries and entries[0][0] <= now - self.seconds:
            entries.popleft()
        if not entries:
            del self._entries[key]
            return None
        return entries

    def _used(self, entries: deque[tuple[float, int]], now: float) -> Used:
        wait = entries[0][0] + self.seconds - now if entries else 0.0
        return Used(len(entries), sum(amount for _, amount in entries), max(0.0, wait))

    def _prune(self, now: float) -> None:
        for key in list(self._entries):
            self._current(key, now)
        while len(self._entries) >= MAX_KEYS * 9 // 10:
            self._entries.popitem(last=False)


@dataclass(frozen=True)
class UploadLimit:
    """At most `files` uploads and `total_bytes` per person per `minutes`."""

    files: int
    total_bytes: int
    minutes: int


class UploadGuard:
    """Counts an upload when it starts (so many at once are refused as well) and its bytes
    once received."""

    def __init__(self, limit: UploadLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._files = Window(limit.minutes * 60, clock)
        self._bytes = Window(limit.minutes * 60, clock)

    def start(self, person_id: int) -> int | None:
        """Count an upload about to be received: None if the person may make it, else the
        minutes until they may again (and nothing is counted)."""
        files, received = self._files.used(person_id), self._bytes.used(person_id)
        if files.count >= self.limit.files:
            wait = files.wait_seconds
        elif received.amount >= self.limit.total_bytes:
            wait = received.wait_seconds
        else:
            self._files.add(person_id)
            return None
        return max(1, math.ceil(wait / 60))

    def received(self, person_id: int, size: int) -> None:
        self._bytes.add(person_id, size)


class SignInGuard:
    """Failed sign-ins per client address: past `threshold` in the window the address is
    refused until its failures age out. Tokens that signed in here before still work from a
    refused address (an office behind one address is not locked out by a stranger)."""

    def __init__(
        self,
        threshold: int,
        minutes: int,
        clock: Callable[[], float] = time.monotonic,
        remembered: int = 10_000,
    ) -> None:
        self.threshold = threshold
        self.minutes = minutes
        self.remembered = remembered
        self._failures = Window(minutes * 60, clock)
        self._known: OrderedDict[str, None] = OrderedDict()

    def refused(self, address: str, external_id: str | None) -> float | None:
        """Seconds to wait if the address is refused for this sign-in, else None."""
        if external_id is not None and external_id in self._known:
            return None
        used = self._failures.used(address)
        return used.wait_seconds if used.count >= self.threshold else None

    def failed(self, address: str) -> int:
        """Count a failure; returns the address's failures in the window."""
        return self._failures.add(address).count

    def signed_in(self, external_id: str) -> None:
        self._known[external_id] = None
        self._known.move_to_end(external_id)
        if len(self._known) > self.remembered:
            self._known.popitem(last=False)
