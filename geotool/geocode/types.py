"""The values every geocoder produces, whatever its backend.

A geocoder turns coordinates into address vectors R(x): locations ordered finest first
(postcodes dropped). Storage (``geotool.geocode.store``) writes them to ``locations`` and
``image_addresses`` the same way for Nominatim (HTTP, in-process, bulk SQL), boundary
files, and EMP-16's precomputed vectors, so later stages never care about the source.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from geotool.errors import InvalidValueError

Status = Literal["ok", "unplaceable", "failed"]


@dataclass(frozen=True)
class LocationRecord:
    """One place, keyed by OSM type letter + id (``R62422``) or ``C:de`` for a country
    known only from Nominatim's country table."""

    osm_key: str
    osm_type: str
    osm_id: int | None = None
    name: str | None = None
    name_en: str | None = None
    category: str | None = None
    type: str | None = None
    admin_level: int | None = None
    rank_address: int | None = None
    is_area: bool | None = None
    country_code: str | None = None
    wikidata: str | None = None
    wikipedia: str | None = None
    population: int | None = None
    place: str | None = None
    importance: float | None = None
    geometry_wkt: str | None = None  # polygon where OSM has one (simplified), else point
    centroid: tuple[float, float] | None = None  # (lat, lon)


@dataclass(frozen=True)
class AddressResult:
    """The answer for one coordinate: its address vector, finest first."""

    lat: float
    lon: float
    status: Status
    locations: tuple[LocationRecord, ...] = field(default_factory=tuple)
    detail: str | None = None


def parse_osm_key(text: str) -> tuple[str, int]:
    """``R62422``/``r62422``/``relation/62422``/``R:62422`` → ("R", 62422)."""
    raw = text.strip()
    words = {"node": "N", "way": "W", "relation": "R"}
    for word, letter in words.items():
        if raw.lower().startswith(word):
            return letter, int(raw[len(word):].lstrip("/: "))
    letter, rest = raw[0].upper(), raw[1:].lstrip(":/")
    if letter not in "NWR" or not rest.lstrip("-").isdigit():
        raise InvalidValueError(f"{text!r} is not an OSM id such as R62422, W123 or N42")
    return letter, int(rest)


class Geocoder(Protocol):
    """Anything that reverse-geocodes coordinates into address vectors."""

    name: str

    def reverse_many(self, points: Sequence[tuple[float, float]]) -> Iterator[AddressResult]:
        """Address vectors for (lat, lon) points, in the input order."""
        ...
