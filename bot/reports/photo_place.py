"""Whether a photo was taken far from its site: the great-circle distance between the photo's
EXIF GPS position and the site's coordinates, against the company's radius. A photo without a
position, or a site without coordinates, raises no flag; flags never block anything."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot.core.texts import plain
from storage.records import Evidence, Site

EARTH_RADIUS_M = 6_371_000


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Metres between two (latitude, longitude) points in degrees (haversine)."""
    lat1, lon1, lat2, lon2 = (math.radians(v) for v in (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def away(photo: Evidence, site: Site) -> float | None:
    """How far from the site the photo was taken, in metres; None if either is unknown."""
    if photo.latitude is None or photo.longitude is None:
        return None
    if site.latitude is None or site.longitude is None:
        return None
    return distance_m((photo.latitude, photo.longitude), (site.latitude, site.longitude))


def far_from_site(
    photos: Sequence[Evidence], site: Site, radius_m: int
) -> list[tuple[Evidence, float]]:
    """The photos taken farther than `radius_m` from the site, with their distance."""
    found = []
    for photo in photos:
        metres = away(photo, site)
        if metres is not None and metres > radius_m:
            found.append((photo, metres))
    return found


def shown_distance(metres: float) -> str:
    """1.2 公里 or 650 米, as a flag says it."""
    if metres >= 1000:
        return plain("report", "km", value=metres / 1000)
    return plain("report", "metres", value=round(metres))
