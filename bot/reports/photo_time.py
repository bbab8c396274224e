"""When a photo was taken, and the flags a capture time raises for the person deciding.

The time is the camera's own claim (EXIF DateTimeOriginal, a wall clock with no zone), read
in the site's time zone; a photo without it (无拍摄时间: chat apps recompress and drop EXIF)
raises no flag and is shown with the time it was received. Flags never block anything."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from storage.records import Evidence


def taken(photo: Evidence, timezone: str) -> datetime | None:
    """The capture time as a UTC-comparable moment, read in the site's zone; None if absent."""
    if photo.taken_at is None:
        return None
    return photo.taken_at.replace(tzinfo=ZoneInfo(timezone))


def fixes_taken_before(
    photos: list[Evidence], created_at: datetime, timezone: str
) -> list[Evidence]:
    """The fix photos whose capture time is before their task was created: an old photo."""
    return [p for p in photos if (at := taken(p, timezone)) is not None and at < created_at]


def findings_taken_before(
    photos: list[Evidence], started_at: datetime, timezone: str, hours: int
) -> list[Evidence]:
    """The inspection photos taken more than `hours` before the inspection started."""
    limit = started_at - timedelta(hours=hours)
    return [p for p in photos if (at := taken(p, timezone)) is not None and at < limit]
