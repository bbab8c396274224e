"""The content-addressed evidence file store."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from storage.errors import EvidenceMissing, EvidenceTooLarge
from storage.evidence import CHUNK, FileEvidenceStore


async def test_same_content_is_stored_once(tmp_path: Path) -> None:
    store = FileEvidenceStore(tmp_path / "ev", max_bytes=1000)
    photo = b"\xff\xd8 a photo"
    first = await store.put(photo)
    second = await store.put(photo)
    other = await store.put(b"another photo")
    assert first == second
    assert first.sha256 == hashlib.sha256(photo).hexdigest()
    assert first.size == len(photo)
    path = store.path(first.sha256)
    assert path == tmp_path / "ev" / first.sha256[:2] / first.sha256[2:]
    assert path.read_bytes() == photo
    assert await store.get(first.sha256) == photo
    assert await store.exists(other.sha256)
    assert sorted([h async for h in store.hashes()]) == sorted([first.sha256, other.sha256])
    files = [p for p in (tmp_path / "ev").rglob("*") if p.is_file()]
    assert len(files) == 2


async def test_size_limit_is_refused_clearly(tmp_path: Path) -> None:
    store = FileEvidenceStore(tmp_path / "ev", max_bytes=2 * 1_048_576)
    with pytest.raises(EvidenceTooLarge) as caught:
        await store.put(b"x" * (3 * 1_048_576))
    message = str(caught.value)
    assert "文件太大" in message
    assert "3.0 MB" in message
    assert "the limit is 2 MB" in message
    assert not (tmp_path / "ev").exists()
    await store.put(b"x" * (2 * 1_048_576))


async def test_missing_and_malformed_hashes(tmp_path: Path) -> None:
    store = FileEvidenceStore(tmp_path / "ev", max_bytes=10)
    with pytest.raises(EvidenceMissing):
        await store.get("0" * 64)
    assert not await store.exists("0" * 64)
    assert [h async for h in store.hashes()] == []
    with pytest.raises(ValueError, match="sha256"):
        store.path("../../etc/passwd")


async def test_a_file_is_stored_from_disk_in_chunks(tmp_path: Path) -> None:
    store = FileEvidenceStore(tmp_path / "ev", max_bytes=3 * 1_048_576)
    source = tmp_path / "upload"
    source.write_bytes(b"\x89PNG" + bytes(2 * 1_048_576))
    stored = await store.put_file(source)
    assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert await store.get(stored.sha256) == source.read_bytes()
    source.write_bytes(bytes(4 * 1_048_576))
    with pytest.raises(EvidenceTooLarge):
        await store.put_file(source)


async def test_a_file_is_read_back_in_chunks(tmp_path: Path) -> None:
    store = FileEvidenceStore(tmp_path / "ev", max_bytes=3 * 1_048_576)
    data = os.urandom(2 * 1_048_576 + 5)
    stored = await store.put(data)
    pieces = [piece async for piece in store.chunks(stored.sha256)]
    assert b"".join(pieces) == data
    assert len(pieces) == 3 and all(len(p) <= CHUNK for p in pieces)
    with pytest.raises(EvidenceMissing):
        await anext(store.chunks("0" * 64))


async def test_discard_keeps_what_was_stored_again_or_is_claimed(tmp_path: Path) -> None:
    store = FileEvidenceStore(tmp_path / "ev", max_bytes=1000)
    a, b, c, d = [(await store.put(data)).sha256 for data in (b"a", b"b", b"c", b"d")]
    long_ago = time.time() - 3600
    for sha in (a, b, c, d):
        os.utime(store.path(sha), (long_ago, long_ago))
    cutoff = time.time() - 60
    assert sorted([h async for h in store.stored_between(None, cutoff)]) == sorted([a, b, c, d])
    assert [h async for h in store.stored_between(long_ago + 1, cutoff)] == []
    await store.put(b"b")  # stored again: its time starts anew
    assert [h async for h in store.stored_between(cutoff, time.time() + 1)] == [b]

    async def unclaimed() -> bool:
        return False

    async def claimed() -> bool:
        return True

    async def stored_meanwhile() -> bool:
        await store.put(b"d")
        return False

    assert await store.discard(a, stored_before=cutoff, claimed=unclaimed)
    assert not await store.discard(b, stored_before=cutoff, claimed=unclaimed)
    assert not await store.discard(c, stored_before=cutoff, claimed=claimed)
    assert not await store.discard(d, stored_before=cutoff, claimed=stored_meanwhile)
    assert not await store.discard(a, stored_before=cutoff, claimed=unclaimed), "gone already"
    assert sorted([h async for h in store.hashes()]) == sorted([b, c, d])
    assert [await store.get(sha) for sha in (b, c, d)] == [b"b", b"c", b"d"]
    assert [p.name for p in (tmp_path / "ev").rglob(".*")] == []
