"""Perceptual hashes on generated photo pairs, against the default `reuse_max_distance`: the same
file re-sent, resized or recompressed is within it; the same scene re-shot (shifted, rotated,
lit differently, new sensor noise) and a different scene are not (figures in docs/EVIDENCE.md)."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageEnhance

from bot.core.company_settings import CompanySettings
from bot.core.pixels import hash_distance, perceptual_hash
from tests.reports.data import jpeg

LIMIT = CompanySettings().reuse_max_distance
SCENES = range(12)


def _hash(data: bytes) -> str:
    found = perceptual_hash(io.BytesIO(data))
    assert found is not None
    return found


def _encode(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _reshot(data: bytes, rng: random.Random) -> bytes:
    """The same scene photographed again: a step aside, a slight tilt, other light and noise."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = image.size
    dx, dy = rng.randint(-w // 30, w // 30), rng.randint(-h // 30, h // 30)
    box = (
        w // 30 + max(0, dx),
        h // 30 + max(0, dy),
        w - w // 30 + min(0, dx),
        h - h // 30 + min(0, dy),
    )
    shot = image.crop(box).resize((w, h))
    shot = ImageEnhance.Brightness(shot).enhance(rng.uniform(0.85, 1.15))
    shot = shot.rotate(rng.uniform(-2, 2), resample=Image.Resampling.BICUBIC)
    shot = Image.blend(shot, Image.effect_noise((w, h), 12).convert("RGB"), 0.08)
    return _encode(shot)


def _scene(index: int) -> bytes:
    return jpeg(index, (1280, 960), noise=10)


def test_copies_of_the_same_file_are_within_the_limit() -> None:
    for index in SCENES:
        data = _scene(index)
        image = Image.open(io.BytesIO(data)).convert("RGB")
        copies = [data, _encode(image.resize((640, 480))), _encode(image, quality=55)]
        assert all(hash_distance(_hash(data), _hash(c)) <= LIMIT for c in copies), index


def test_reshots_and_other_scenes_are_not() -> None:
    rng = random.Random(1)
    for index in SCENES:
        data = _scene(index)
        assert hash_distance(_hash(data), _hash(_reshot(data, rng))) > LIMIT, index
        assert hash_distance(_hash(data), _hash(_scene(index + 1000))) > LIMIT, index


def test_what_is_no_image_has_no_hash() -> None:
    assert perceptual_hash(io.BytesIO(b"not an image")) is None
