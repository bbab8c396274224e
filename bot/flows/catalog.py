"""The standards an inspection can use."""

from __future__ import annotations

from pathlib import Path

from standards.loader import load_all, standard_dirs
from standards.schema import Standard


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
