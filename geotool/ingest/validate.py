"""Checking one row at a time: coordinates, id, split and address vector.

Every :class:`~geotool.ingest.readers.SourceRow` becomes a staging tuple that carries
either clean values or a rejection (``kind`` and a sentence for the user). Checks that
need the whole file or the database (duplicate ids, an id already stored with another
coordinate) run later in SQL on the staging table (``sql/ingest/check.sql``), so memory
stays bounded whatever the file size.

:class:`SwapDetector` watches the coordinates go by: when a noticeable share of
latitudes lies in 90 < |lat| ≤ 180 while no longitude leaves ±90, the columns are
almost certainly swapped (the old im2gps3k meta CSV has this defect). With
``skip_invalid`` that is an error of its own: skipping would load a garbled dataset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from geotool.db.tables import SPLITS
from geotool.geocode.types import parse_osm_key
from geotool.ingest.readers import SourceRow

# Columns of the staging table, in COPY order.
STAGING_COLUMNS = ("line_no", "external_id", "lat", "lon", "path", "mask_path", "author",
                   "split", "address", "kind", "reason", "raw")
# "Swapped" = at least SWAP_MIN_ROWS rows and SWAP_SHARE of the rows have 90 < |lat| <= 180
# while no |lon| > 90. A real swapped file has many (longitudes beyond ±90 are common);
# a lone typo in a small file is not enough.
SWAP_SHARE = 0.10
SWAP_MIN_ROWS = 2

StagedRow = tuple[Any, ...]


def _coordinate(value: Any, name: str, limit: float) -> tuple[float | None, str | None, str]:
    """(value, rejection kind, rejection reason) for one latitude or longitude."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, "missing_value", f"{name} is missing"
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None, "not_numeric", f"{name} {value!r} is not a number"
    try:
        number = float(value)
    except ValueError:
        return None, "not_numeric", f"{name} {str(value).strip()!r} is not a number"
    if not math.isfinite(number):
        return None, "not_finite", f"{name} {str(value).strip()} is not a finite number"
    if not -limit <= number <= limit:
        return number, f"{name}_range", f"{name} {number:g} is outside ±{limit:g}"
    return number, None, ""


def _address(value: Any) -> tuple[list[str] | None, str | None]:
    """EMP-16 ``h_raw`` as normalised OSM keys (``R62422``), or a rejection reason."""
    if value is None:
        return None, None
    if not isinstance(value, list):
        return None, f"h_raw must be a list of OSM ids, got {type(value).__name__}"
    keys: list[str] = []
    for item in value:
        if not isinstance(item, str):
            return None, f"h_raw entry {item!r} is not an OSM id such as 'R62422'"
        try:
            letter, number = parse_osm_key(item)
        except (ValueError, IndexError):
            return None, f"h_raw entry {item!r} is not an OSM id such as 'R62422'"
        keys.append(f"{letter}{number}")
    return keys, None


@dataclass
class SwapDetector:
    """Counts coordinates that only make sense with latitude and longitude exchanged."""

    numeric: int = 0
    lat_beyond_90: int = 0  # 90 < |lat| <= 180
    lon_beyond_90: int = 0  # |lon| > 90

    def see(self, lat: float, lon: float) -> None:
        self.numeric += 1
        if 90.0 < abs(lat) <= 180.0:
            self.lat_beyond_90 += 1
        if abs(lon) > 90.0:
            self.lon_beyond_90 += 1

    @property
    def suspected(self) -> bool:
        return (self.lon_beyond_90 == 0 and self.lat_beyond_90 >= SWAP_MIN_ROWS
                and self.lat_beyond_90 >= SWAP_SHARE * self.numeric)

    def hint(self, swapped: bool = False) -> str:
        """What to tell the user; ``swapped``: the columns were already exchanged."""
        action = ("Re-run without --swap-latlon." if swapped else
                  "Re-run with --swap-latlon (the old im2gps3k meta CSV has its LAT/LON "
                  "headers exchanged).")
        return (f"Latitude and longitude look swapped: {self.lat_beyond_90:,} of "
                f"{self.numeric:,} rows have 90 < |latitude| <= 180 while every "
                f"|longitude| <= 90. {action}")


class RowChecker:
    """Turns source rows into staging tuples; ``split`` wins over a split column."""

    def __init__(self, split: str | None, swap_latlon: bool = False) -> None:
        self.split = split
        self.swap_latlon = swap_latlon
        self.swap = SwapDetector()

    def check(self, row: SourceRow) -> StagedRow:
        ident = row.external_id.strip() if row.external_id is not None else None
        ident = ident or None
        split = self.split or (row.split.strip().lower() if row.split else None)
        raw_lat, raw_lon = (row.lon, row.lat) if self.swap_latlon else (row.lat, row.lon)
        lat, lat_kind, lat_reason = _coordinate(raw_lat, "latitude", 90.0)
        lon, lon_kind, lon_reason = _coordinate(raw_lon, "longitude", 180.0)
        if lat is not None and lon is not None and lon_kind is None and (
                lat_kind is None or lat_kind == "latitude_range"):
            self.swap.see(lat, lon)
        address, address_reason = _address(row.address)

        kind: str | None = None
        reason: str | None = None
        if row.error:
            kind, reason = "unreadable", row.error
        elif ident is None:
            kind, reason = "missing_id", "id is missing or empty"
        elif lat_kind:
            kind, reason = lat_kind, lat_reason
        elif lon_kind:
            kind, reason = lon_kind, lon_reason
        elif split not in SPLITS:
            kind = "bad_split"
            reason = (f"split {split!r} is not one of {', '.join(SPLITS)}" if split
                      else "split is empty; give --split or fill the split column")
        elif address_reason:
            kind, reason = "bad_address", address_reason
        if kind is not None:
            lat = lon = None
            address = None
        return (row.line_no, ident, lat, lon, row.path, row.mask_path,
                row.author.strip() if row.author else None, split, address, kind, reason,
                row.raw)
