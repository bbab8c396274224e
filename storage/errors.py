"""Exceptions raised by the storage layer."""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every storage error."""


class DuplicateEvent(StorageError):
    """The incoming event's idempotency key was already processed; nothing was written."""

    def __init__(self, key: str) -> None:
        super().__init__(f"event already processed: {key}")
        self.key = key


class NotFound(StorageError):
    """A row the caller named does not exist."""


class ConcurrentUpdate(StorageError):
    """The row changed since it was read (its version moved); reload and retry."""


class StateConflict(StorageError):
    """The requested change does not fit the row's current state."""


class IdentityInUse(StorageError):
    """The channel account is already bound to another person."""


class SchemaMismatch(StorageError):
    """The database schema is not the one this program was built for."""


class EvidenceTooLarge(StorageError):
    """An evidence file is over the configured size limit."""

    def __init__(self, size: int, limit: int) -> None:
        mb, limit_mb = size / 1_048_576, limit / 1_048_576
        super().__init__(
            f"文件太大（{mb:.1f} MB），上限为 {limit_mb:g} MB / "
            f"file too large ({mb:.1f} MB), the limit is {limit_mb:g} MB"
        )
        self.size = size
        self.limit = limit


class EvidenceMissing(StorageError):
    """No evidence file is stored under the given hash."""
