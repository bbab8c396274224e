"""The pinned standards of running inspections: the exact snapshot each was scored against."""

from __future__ import annotations

from typing import Any, Protocol

from standards.schema import Standard

_PINNED: dict[str, Standard] = {}


class Snapshot(Protocol):
    """A stored standard version (storage.records.StoredStandard)."""

    @property
    def content_hash(self) -> str: ...

    @property
    def snapshot(self) -> dict[str, Any]: ...


def pinned(stored: Snapshot) -> Standard:
    """The exact standard an inspection was scored against, parsed once per content hash."""
    standard = _PINNED.get(stored.content_hash)
    if standard is None:
        standard = Standard.model_validate(stored.snapshot)
        _PINNED[stored.content_hash] = standard
    return standard


def parsed(content_hash: str) -> Standard | None:
    """The standard of that content hash if `pinned` parsed it already."""
    return _PINNED.get(content_hash)
