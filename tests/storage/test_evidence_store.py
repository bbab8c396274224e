"""The content-addressed evidence file store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from storage import EvidenceMissing, EvidenceTooLarge, FileEvidenceStore


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
