"""Content-addressed evidence files: the same photo twice is stored once.

EvidenceStore is the small interface the rest of the program uses; FileEvidenceStore keeps
files under a directory, and an S3-compatible store could implement the same methods.

Storing a file again refreshes its time. The channels store what people send before any flow
decides to keep it; `storage.unclaimed` removes, after a grace period, the files that nothing
refers to, with `discard`, which keeps a file stored again meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import IO, NamedTuple, Protocol

from storage.errors import EvidenceMissing, EvidenceTooLarge

_HEX64 = re.compile(r"[0-9a-f]{64}")
CHUNK = 1024 * 1024


class StoredFile(NamedTuple):
    sha256: str
    size: int


class EvidenceStore(Protocol):
    max_bytes: int

    async def put(self, data: bytes) -> StoredFile:
        """Store the bytes (once per content) or raise EvidenceTooLarge."""
        ...

    async def put_file(self, source: Path) -> StoredFile:
        """Store a file's bytes, read in chunks (never all at once), or raise EvidenceTooLarge."""
        ...

    async def get(self, sha256: str) -> bytes:
        """The bytes stored under the hash, or EvidenceMissing."""
        ...

    def chunks(self, sha256: str) -> AsyncGenerator[bytes, None]:
        """The bytes stored under the hash, read a chunk at a time (never all at once);
        EvidenceMissing at the first chunk if there are none."""
        ...

    async def exists(self, sha256: str) -> bool: ...

    def hashes(self) -> AsyncIterator[str]:
        """Every stored hash, in no particular order."""
        ...

    def stored_between(self, start: float | None, end: float) -> AsyncIterator[str]:
        """The hashes last stored at a time in [start, end) (seconds since the epoch; no start:
        from the beginning)."""
        ...

    async def discard(
        self, sha256: str, *, stored_before: float, claimed: Callable[[], Awaitable[bool]]
    ) -> bool:
        """Remove the file unless it was stored again at or after `stored_before` or
        `claimed()`, asked once a new `put` would store the file afresh, says it is wanted;
        True if it was removed."""
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

    async def put_file(self, source: Path) -> StoredFile:
        size = await asyncio.to_thread(lambda: source.stat().st_size)
        check_size(size, self.max_bytes)
        digest = await asyncio.to_thread(_file_digest, source)
        await asyncio.to_thread(self._write_from, digest, source)
        return StoredFile(digest, size)

    def _write(self, digest: str, data: bytes) -> None:
        self._write_with(digest, lambda out: out.write(data))

    def _write_from(self, digest: str, source: Path) -> None:
        with source.open("rb") as stream:
            self._write_with(digest, lambda out: shutil.copyfileobj(stream, out, CHUNK))

    def _write_with(self, digest: str, fill: Callable[[IO[bytes]], object]) -> None:
        target = self.path(digest)
        try:
            os.utime(target)  # stored again: its grace period starts anew
            return
        except FileNotFoundError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                fill(out)
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

    async def chunks(self, sha256: str) -> AsyncGenerator[bytes, None]:
        try:
            stream = await asyncio.to_thread(self.path(sha256).open, "rb")
        except FileNotFoundError:
            raise EvidenceMissing(sha256) from None
        try:
            while chunk := await asyncio.to_thread(stream.read, CHUNK):
                yield chunk
        finally:
            await asyncio.to_thread(stream.close)

    async def exists(self, sha256: str) -> bool:
        return await asyncio.to_thread(self.path(sha256).is_file)

    async def hashes(self) -> AsyncIterator[str]:
        for digest in await asyncio.to_thread(self._list):
            yield digest

    async def stored_between(self, start: float | None, end: float) -> AsyncIterator[str]:
        for digest, stored in await asyncio.to_thread(self._list_times):
            if (start is None or stored >= start) and stored < end:
                yield digest

    async def discard(
        self, sha256: str, *, stored_before: float, claimed: Callable[[], Awaitable[bool]]
    ) -> bool:
        target = self.path(sha256)
        # Out of the way first: a put from now on writes the file afresh, and a put that came
        # just before shows in the file's time.
        aside = target.with_name(f".discard-{target.name}-{secrets.token_hex(4)}")
        try:
            await asyncio.to_thread(os.rename, target, aside)
        except FileNotFoundError:
            return False
        try:
            stored = (await asyncio.to_thread(aside.stat)).st_mtime
            keep = stored >= stored_before or await claimed()
        except BaseException:
            await asyncio.to_thread(os.replace, aside, target)
            raise
        if keep:
            await asyncio.to_thread(os.replace, aside, target)
            return False
        await asyncio.to_thread(aside.unlink)
        return not await asyncio.to_thread(target.exists)  # (not stored afresh meanwhile)

    def _list(self) -> list[str]:
        return [digest for digest, _ in self._list_times(with_times=False)]

    def _list_times(self, *, with_times: bool = True) -> list[tuple[str, float]]:
        if not self.root.is_dir():
            return []
        found = []
        for sub in self.root.iterdir():
            if len(sub.name) != 2 or not sub.is_dir():
                continue
            for file in sub.iterdir():
                digest = sub.name + file.name
                if not _HEX64.fullmatch(digest):
                    continue
                try:
                    stored = file.stat().st_mtime if with_times else 0.0
                except FileNotFoundError:  # discarded meanwhile
                    continue
                found.append((digest, stored))
        return found


def _file_digest(source: Path) -> str:
    with source.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
