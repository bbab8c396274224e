"""Where a photo was taken, read from its EXIF GPS (bot.core.pixels.gps_position), and how far
that is from its site (bot.reports.photo_place)."""

from __future__ import annotations

import io
from datetime import datetime

from PIL import Image

from bot.core.pixels import gps_position
from bot.reports.photo_place import distance_m, far_from_site, shown_distance
from storage.records import Channel, Evidence, EvidenceKind, EvidenceRole, Site

GPS_IFD = 0x8825
SITE = (31.2304, 121.4737)  # 阳光花园, as set with `pinjian site set --coords`


def dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 4)


def gps_photo(position: tuple[float, float] | None, *, refs: tuple[str, str] = ("N", "E")) -> bytes:
    """A JPEG whose EXIF carries `position` (or no GPS at all)."""
    exif = Image.Exif()
    if position is not None:
        gps = exif.get_ifd(GPS_IFD)
        gps[1], gps[2] = refs[0], dms(abs(position[0]))
        gps[3], gps[4] = refs[1], dms(abs(position[1]))
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 130, 140)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def offset(metres_north: float) -> tuple[float, float]:
    """A point `metres_north` north of the site."""
    return SITE[0] + metres_north / 111_195, SITE[1]


def test_the_position_is_read_from_exif() -> None:
    found = gps_position(io.BytesIO(gps_photo(SITE)))
    assert found is not None
    assert distance_m(found, SITE) < 1
    south_west = gps_position(io.BytesIO(gps_photo((33.8688, 151.2093), refs=("S", "W"))))
    assert south_west is not None
    assert abs(south_west[0] + 33.8688) < 1e-4 and abs(south_west[1] + 151.2093) < 1e-4


def test_no_gps_or_a_meaningless_one_gives_none() -> None:
    assert gps_position(io.BytesIO(gps_photo(None))) is None
    assert gps_position(io.BytesIO(gps_photo((0.0, 0.0)))) is None  # a phone without a fix
    assert gps_position(io.BytesIO(b"\xff\xd8\xff\xe0 not a photo")) is None


def test_distances() -> None:
    assert abs(distance_m(SITE, offset(1000)) - 1000) < 2
    assert abs(distance_m((31.2304, 121.4737), (39.9042, 116.4074)) - 1_067_000) < 5_000
    assert shown_distance(650.4) == "650 米" and shown_distance(3210) == "3.2 公里"


def _evidence(position: tuple[float, float] | None) -> Evidence:
    return Evidence(
        id=1,
        sha256="a" * 64,
        size=1,
        mime="image/jpeg",
        kind=EvidenceKind.PHOTO,
        role=EvidenceRole.FIX,
        channel=Channel.TELEGRAM,
        channel_file_ref=None,
        caption=None,
        inspection_id=None,
        item_no=None,
        task_id=1,
        created_by=1,
        created_at=datetime(2026, 11, 2),
        taken_at=None,
        phash=None,
        latitude=position[0] if position else None,
        longitude=position[1] if position else None,
    )


def _site(position: tuple[float, float] | None) -> Site:
    return Site(
        id=1,
        name="阳光花园",
        address="",
        timezone="Asia/Shanghai",
        quiet_start="21:00",
        quiet_end="08:00",
        settings={},
        active=True,
        created_at=datetime(2026, 11, 1),
        region_id=None,
        latitude=position[0] if position else None,
        longitude=position[1] if position else None,
    )


def test_only_a_photo_beyond_the_radius_of_a_placed_site_is_far() -> None:
    near, far, nowhere = _evidence(offset(300)), _evidence(offset(3000)), _evidence(None)
    found = far_from_site([near, far, nowhere], _site(SITE), 500)
    assert [(p is far, round(m)) for p, m in found] == [(True, 3000)]
    assert far_from_site([near, far, nowhere], _site(None), 500) == []
