"""The location records every Nominatim geocoder builds the same way (in-process, HTTP,
bulk SQL): a ``LocationRecord`` from the parts of a Nominatim answer, the ``C:<cc>``
record of a country known only from Nominatim's ``country_name`` table, the SQL that
simplifies a polygon part by part, and Nominatim's "unplaceable" answer text.

They lived in the in-process module, which made the HTTP and bulk geocoders import it;
now each imports this small module instead (see docs/method.md §1 for the rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from geotool.geocode.types import LocationRecord

UNPLACEABLE = "Unable to geocode"


def _int(value: Any) -> int | None:
    try:
        return int(str(value).replace(",", "").replace(" ", "").split(".")[0])
    except (TypeError, ValueError):
        return None


def _place_of(category: tuple[str, str], extratags: Mapping[str, str] | None) -> str | None:
    if category[0] == "place":
        return category[1]
    tags = extratags or {}
    return tags.get("place") or tags.get("linked_place")


def record_from_parts(
    osm_type: str,
    osm_id: int,
    names: Mapping[str, str] | None,
    category: tuple[str, str],
    extratags: Mapping[str, str] | None,
    admin_level: int | None,
    rank_address: int | None,
    country_code: str | None = None,
    **extra: Any,
) -> LocationRecord:
    """A ``LocationRecord`` from the parts every Nominatim answer carries."""
    names = names or {}
    tags = extratags or {}
    level = admin_level if admin_level is not None and admin_level < 15 else None
    return LocationRecord(
        osm_key=f"{osm_type}{osm_id}",
        osm_type=osm_type,
        osm_id=osm_id,
        name=names.get("name") or names.get("ref") or next(iter(names.values()), None),
        name_en=names.get("name:en"),
        category=category[0],
        type=category[1],
        admin_level=level,
        rank_address=rank_address,
        country_code=country_code,
        wikidata=tags.get("wikidata"),
        wikipedia=extra.pop("wikipedia", None) or tags.get("wikipedia"),
        population=_int(tags.get("population")),
        place=_place_of(category, tags),
        **extra,
    )


def country_record(cc: str, names: Mapping[str, str] | None) -> LocationRecord:
    """The synthetic ``C:<cc>`` location of a country known only from ``country_name``."""
    names = names or {}
    return LocationRecord(
        osm_key=f"C:{cc.lower()}", osm_type="C", osm_id=None,
        name=names.get("name") or cc.upper(), name_en=names.get("name:en"),
        category="place", type="country", admin_level=2, rank_address=4,
        country_code=cc.lower(), place="country",
    )
