"""The standards an inspection can use, and the pinned snapshots of running inspections."""

from __future__ import annotations

from pathlib import Path

from standards.loader import load_all, standard_dirs
from standards.schema import Standard
from storage.records import StoredStandard

_PINNED: dict[str, Standard] = {}


class StandardsCatalog:
    """Current standards by id, loaded once at start-up (built-in + <data dir>/standards)."""

    def __init__(self, standards: dict[str, Standard]) -> None:
        self._standards = dict(sorted(standards.items()))

    @classmethod
    def load(cls, data_dir: Path | None) -> StandardsCatalog:
        return cls(load_all(standard_dirs(data_dir)))

    def available(self) -> list[Standard]:
        return list(self._standards.values())

    def get(self, std_id: str) -> Standard | None:
        return self._standards.get(std_id)


def pinned(stored: StoredStandard) -> Standard:
    """The exact standard an inspection was scored against, parsed once per content hash."""
    standard = _PINNED.get(stored.content_hash)
    if standard is None:
        standard = Standard.model_validate(stored.snapshot)
        _PINNED[stored.content_hash] = standard
    return standard
