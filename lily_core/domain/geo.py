from __future__ import annotations

import math
import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import zipcodes

from lily_core.errors import InvalidInput

EARTH_RADIUS_MILES = 3958.8
_ZIP_RE = re.compile(r"^\d{5}$")


@attrs.frozen
class ZipInfo:
    """A US ZIP code resolved offline: its centroid and its IANA timezone."""

    zip: str
    city: str
    state: str
    latitude: float
    longitude: float
    timezone: str | None


@lru_cache(maxsize=4096)
def lookup_zip(zip_code: str) -> ZipInfo | None:
    """The ZipInfo of a 5-digit US ZIP, or None if the ZIP does not exist."""
    if not _ZIP_RE.match(zip_code):
        return None
    found = zipcodes.matching(zip_code)  # type: ignore[no-untyped-call]
    if not found:
        return None
    row = found[0]
    return ZipInfo(
        zip=zip_code,
        city=row["city"],
        state=row["state"],
        latitude=float(row["lat"]),
        longitude=float(row["long"]),
        timezone=row.get("timezone") or None,
    )


def require_zip(raw: str, *, field: str = "zip") -> str:
    """Return `raw` if it is a known 5-digit US ZIP; raise InvalidInput otherwise."""
    zip_code = raw.strip()
    if not _ZIP_RE.match(zip_code):
        raise InvalidInput(f"{raw!r} is not a 5-digit US ZIP code", field=field)
    if lookup_zip(zip_code) is None:
        raise InvalidInput(f"{raw!r} is not a known US ZIP code", field=field)
    return zip_code


def require_timezone(name: str, *, field: str = "timezone") -> str:
    """Return `name` if it is an IANA timezone; raise InvalidInput otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"{name!r} is not an IANA timezone", field=field) from None
    return name


def great_circle_miles(a: ZipInfo, b: ZipInfo) -> float:
    """Haversine distance between two ZIP centroids, on a sphere of radius 3958.8 miles."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_MILES * math.asin(math.sqrt(h))
