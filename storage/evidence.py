"""Content-addressed evidence files: the same photo twice is stored once.

EvidenceStore is the small interface the rest of the program uses; FileEvidenceStore keeps
files under a directory, and an S3-compatible store could implement the same four methods.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple, Protocol

from storage.errors import EvidenceMissing, EvidenceTooLarge

_HEX64 = re.compile(r"[0-9a-f]{64}")


class StoredFile(NamedTuple):
    sha256: str
    size: int


class EvidenceStore(Protocol):
    max_bytes: int

    async def put(self, data: bytes) -> StoredFile:
        """Store the bytes (once per content) or raise EvidenceTooLarge."""
        ...

    async def get(self, sha256: str) -> bytes:
        """The bytes stored under the hash, or EvidenceMissing."""
        ...

    async def exists(self, sha256: str) -> bool: ...

    def hashes(self) -> AsyncIterator[str]:
        """Every stored hash, in no particular order."""
        ...


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise EvidenceTooLarge(size, limit)


def _checked(sha256: str) -> str:
    if not _HEX64.fullmatch(sha256):
        raise ValueError("not a lowercase hex sha256")
    return sha256


class FileEvidenceStore:
    """Files at ``root/ab/cdef…`` named by their sha256, written atomically."""

    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path(self, sha256: str) -> Path:
        """Where the file for the hash lives (report rendering reads it from here)."""
        digest = _checked(sha256)
        return self.root / digest[:2] / digest[2:]

    async def put(self, data: bytes) -> StoredFile:
        check_size(len(data), self.max_bytes)
        digest = hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(self._write, digest, data)
        return StoredFile(digest, len(data))

    def _write(self, digest: str, data: bytes) -> None:
        target = self.path(digest)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    async def get(self, sha256: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path(sha256).read_bytes)
        except FileNotFoundError:
            raise EvidenceMissing(sha256) from None

    async def exists(self, sha256: str) -> bool:
        return await asyncio.to_thread(self.path(sha256).is_file)

    async def hashes(self) -> AsyncIterator[str]:
        for digest in await asyncio.to_thread(self._list):
            yield digest

    def _list(self) -> list[str]:
        if not self.root.is_dir():
            return []
        found = []
        for sub in self.root.iterdir():
            if len(sub.name) != 2 or not sub.is_dir():
                continue
            for file in sub.iterdir():
                digest = sub.name + file.name
                if _HEX64.fullmatch(digest):
                    found.append(digest)
        return found
