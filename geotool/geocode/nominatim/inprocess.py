"""Reverse geocoding in-process with ``nominatim-api``: no HTTP between geotool and the
Nominatim database, and many reverse calls in flight at once.

The async API (``NominatimAPIAsync``) runs on a private event loop; a semaphore bounds the
concurrent ``reverse`` calls (its connection pool is sized to match). Each answer's address
rows become ``LocationRecord``s with the rules of :func:`address_vector`:

* only rows Nominatim's own display uses (``isaddress``) are kept, finest first;
* a location's category, type, rank, admin level and country code are those of its own
  placex row (the row the answer names; the country code as Nominatim filled it at
  indexing), the same rule as the bulk geocoder's, so the stored attributes do not
  depend on which geocoder wrote last;
* postcodes, house numbers, the country-code row and other rows without an OSM object
  (``_unlisted_place``) are dropped — they are not places with an identity;
* the country row that Nominatim builds from its ``country_name`` table (no OSM object)
  becomes the country's boundary relation when the Nominatim database has one
  (``boundary=administrative``, ``admin_level=2``, same country code), else the
  synthetic key ``C:<cc>``; a vector never holds the same location twice.

Details (full attributes, polygon simplified by ``simplify`` degrees, else a point) are
fetched once per location with ``details``; ``C:<cc>`` countries get the union of
Nominatim's ``country_osm_grid`` cells as their polygon.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from geotool.db import sqlfiles
from geotool.db.urls import dsn_database
from geotool.errors import InvalidValueError, UnavailableError
from geotool.geocode.nominatim.records import UNPLACEABLE, country_record, record_from_parts
from geotool.geocode.types import AddressResult, Geocoder, LocationRecord

__all__ = ["InProcessNominatim", "address_vector"]

def address_vector(result: Any, country_keys: Mapping[str, str | None],
                   place_countries: Mapping[int, str | None] | None = None
                   ) -> list[LocationRecord]:
    """The address vector of a ``nominatim_api`` result, finest first (rules: module doc).

    ``country_keys`` maps a country code to its boundary relation key (``R123``) or None.
    ``place_countries`` maps the place_id of an address row to its placex row's country
    code: a location's attributes are those of its own placex row (the rule the bulk
    geocoder shares); without it, the result's country code is used for every row.
    """
    cc = (result.country_code or "").lower() or None
    out: list[LocationRecord] = []
    seen: set[str] = set()
    for row in result.address_rows or ():
        if not row.isaddress or row.category in (("place", "postcode"),
                                                 ("boundary", "postal_code")):
            continue
        if row.osm_object is not None:
            osm_type, osm_id = row.osm_object
            row_cc = cc if place_countries is None else place_countries.get(row.place_id)
            rec = record_from_parts(osm_type, int(osm_id), row.names, row.category,
                                    row.extratags, row.admin_level, row.rank_address, row_cc)
        elif row.category == ("place", "country") and cc:
            key = country_keys.get(cc)
            if key is not None:
                rec = LocationRecord(osm_key=key, osm_type=key[0], osm_id=int(key[1:]),
                                     country_code=cc, rank_address=4, admin_level=2)
            else:
                rec = country_record(cc, row.names)
        else:
            continue  # house number, unlisted place, country code: no identity
        if rec.osm_key not in seen:
            seen.add(rec.osm_key)
            out.append(rec)
    return out


class InProcessNominatim(Geocoder):
    """A ``Geocoder`` over a local Nominatim database through ``nominatim-api``.

    ``environ`` holds Nominatim settings (at least ``NOMINATIM_DATABASE_DSN``, e.g.
    ``pgsql:dbname=nominatim;host=/tmp;port=5432``); ``project_dir`` is the Nominatim
    project directory when there is one. ``concurrency`` bounds the reverse calls in
    flight. Use as a context manager or call :meth:`close`.
    """

    name = "nominatim"
    source = "nominatim"
    fetches_details = True

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        project_dir: Path | str | None = None,
        concurrency: int = 8,
        simplify: float = 0.0,
        namespace: str | None = None,
    ) -> None:
        from nominatim_api import NominatimAPIAsync

        if concurrency < 1:
            raise InvalidValueError(f"concurrency must be at least 1, not {concurrency}")
        env = dict(environ or {})
        env.setdefault("NOMINATIM_API_POOL_SIZE", str(max(concurrency, 1)))
        self.concurrency = concurrency
        self.simplify = simplify
        self._loop = asyncio.new_event_loop()
        self._api = NominatimAPIAsync(project_dir, env)
        self._country_keys: dict[str, str | None] = {}
        self._dbname = dsn_database(env.get("NOMINATIM_DATABASE_DSN", ""))
        self._namespace = namespace
        self._data_key: str | None = None

    @property
    def data_key(self) -> str:
        """The imported data this database answers from (``nominatim.local``)."""
        if self._data_key is None:
            from geotool.geocode.nominatim.local import DATA_KEY_SQL, data_key_of

            rows = self._loop.run_until_complete(self._sql(DATA_KEY_SQL))
            self._data_key = data_key_of(rows[0])
        return self._data_key

    @property
    def namespace(self) -> str:
        """The ``geocode_cache`` namespace: database name and imported data (unless given)."""
        return self._namespace or f"nominatim:{self._dbname}:{self.data_key}"

    def __enter__(self) -> InProcessNominatim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connections and the event loop."""
        if not self._loop.is_closed():
            self._loop.run_until_complete(self._api.close())
            self._loop.close()

    def check(self) -> str:
        """Raise :class:`UnavailableError` when the Nominatim database cannot answer; else its
        status."""
        status = self._loop.run_until_complete(self._api.status())
        if status.status != 0:
            raise UnavailableError(
                f"the local Nominatim database does not answer ({status.message}). "
                "Import one with `geotool nominatim import FILE.osm.pbf`."
            )
        return f"Nominatim {status.software_version}, data {status.data_updated}"

    # ----------------------------------------------------------------- reverse
    def reverse_many(self, points: Sequence[tuple[float, float]]) -> Iterator[AddressResult]:
        """Address vectors for (lat, lon) points, in input order, ``concurrency`` at a time."""
        return iter(self._loop.run_until_complete(self._reverse_all(points)))

    async def _reverse_all(self, points: Sequence[tuple[float, float]]) -> list[AddressResult]:
        sem = asyncio.Semaphore(self.concurrency)

        async def one(lat: float, lon: float) -> Any:
            async with sem:
                return await self._api.reverse((lon, lat), max_rank=30, address_details=True)

        answers = await asyncio.gather(*(one(lat, lon) for lat, lon in points))
        missing = {(a.country_code or "").lower() for a in answers if a is not None} - set(
            self._country_keys) - {""}
        for cc in sorted(missing):
            self._country_keys[cc] = await self._country_relation(cc)
        place_ids = sorted({row.place_id for a in answers if a is not None
                            for row in a.address_rows or () if row.osm_object is not None
                            and row.place_id is not None})
        place_countries: dict[int, str | None] = {}
        if place_ids:
            rows = await self._sql("SELECT place_id, country_code FROM placex "
                                   "WHERE place_id = ANY(:ids)", ids=place_ids)
            place_countries = {int(pid): str(cc).lower() if cc else None for pid, cc in rows}
        out = []
        for (lat, lon), ans in zip(points, answers, strict=True):
            if ans is None:
                out.append(AddressResult(lat, lon, "unplaceable", detail=UNPLACEABLE))
                continue
            vec = address_vector(ans, self._country_keys, place_countries)
            if vec:
                out.append(AddressResult(lat, lon, "ok", tuple(vec)))
            else:
                out.append(AddressResult(lat, lon, "unplaceable", detail="no address"))
        return out

    async def _sql(self, stmt: str, **params: Any) -> list[Any]:
        async with self._api.begin() as conn:
            return list(await conn.execute(sa.text(stmt), params))

    async def _country_relation(self, cc: str) -> str | None:
        rows = await self._sql(
            "SELECT osm_id FROM placex WHERE osm_type = 'R' AND class = 'boundary' "
            "AND type = 'administrative' AND admin_level = 2 AND country_code = :cc "
            "ORDER BY importance DESC NULLS LAST, osm_id LIMIT 1", cc=cc)
        return f"R{rows[0][0]}" if rows else None

    # ----------------------------------------------------------------- details
    def details_many(self, osm_keys: Sequence[str]) -> list[LocationRecord | None]:
        """Full details for locations (None where Nominatim does not know the place)."""
        return self._loop.run_until_complete(self._details_all(osm_keys))

    async def _details_all(self, osm_keys: Sequence[str]) -> list[LocationRecord | None]:
        sem = asyncio.Semaphore(self.concurrency)

        async def one(key: str) -> LocationRecord | None:
            async with sem:
                if key.startswith("C:"):
                    return await self._country_details(key[2:])
                return await self._place_details(key)

        return list(await asyncio.gather(*(one(k) for k in osm_keys)))

    async def _place_details(self, key: str) -> LocationRecord | None:
        from nominatim_api import GeometryFormat, OsmID

        # nominatim-api 5.x ignores geometry_simplification in details(): simplify here
        res = await self._api.details(
            OsmID(key[0], int(key[1:])), geometry_output=GeometryFormat.GEOJSON)
        if res is None:
            return None
        wkt, is_area = _area_wkt(res.geometry.get("geojson"), self.simplify)
        if not is_area:
            wkt = f"POINT({res.centroid[0]} {res.centroid[1]})"
        return record_from_parts(
            key[0], int(key[1:]), res.names, res.category, res.extratags,
            res.admin_level, res.rank_address, (res.country_code or "").lower() or None,
            wikipedia=res.wikipedia, importance=res.importance, is_area=is_area,
            geometry_wkt=wkt, centroid=(res.centroid[1], res.centroid[0]),
        )

    async def _country_details(self, cc: str) -> LocationRecord | None:
        (outline,) = sqlfiles.load("geocode/country_outline")
        ((wkt, clat, clon, names),) = await self._sql(outline, cc=cc, tol=self.simplify)
        base = country_record(cc, names)
        if wkt is None:
            return base
        return LocationRecord(**{**base.__dict__, "geometry_wkt": wkt, "is_area": True,
                                 "centroid": (float(clat), float(clon))})


def _area_wkt(geojson: str | None, simplify: float = 0.0) -> tuple[str | None, bool]:
    """(WKT, True) for a polygon GeoJSON string, simplified by ``simplify`` degrees
    (topology preserved), else (None, False)."""
    if not geojson:
        return None, False
    from shapely.geometry import shape

    geom = shape(json.loads(geojson))
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        if simplify > 0:
            geom = geom.simplify(simplify, preserve_topology=True)
        return geom.wkt, True
    return None, False

