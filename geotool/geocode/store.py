"""Writing geocoder answers to the database, and finding what is still to geocode.

Every geocoder (Nominatim in-process or over HTTP, bulk SQL, boundary files) ends here,
so ``locations``, ``image_addresses`` and ``image_geocodes`` look the same whatever the
source. The rules:

* ``locations`` are upserted by ``osm_key``; a non-null new value replaces the stored one,
  a null never erases one, so a later details fetch only adds to a reverse answer.
* An image is finished when it has its ``image_geocodes`` row. That row, its address rows
  and the cache rows of a batch are written in ONE transaction, so a killed process
  leaves whole images or nothing. ``INSERT .. ON CONFLICT DO NOTHING`` on
  ``image_geocodes`` makes an overlapping second run harmless (first writer wins).
* Postcodes are never stored in an address vector; a location repeated in one vector
  is kept at its finest position only.
* ``geocode_cache`` keeps each queried coordinate's answer per geocoder namespace, so a
  re-run or another dataset with the same coordinates asks the geocoder nothing.

The statements are the ``sql/geocode/store_*.sql`` and ``pending_*.sql`` files.

Public API (used by ``geotool.geocode.pipeline`` and the bulk/boundaries geocoders):
``PendingPoint``, ``BatchCounts``, ``count_pending``,
``iter_pending_points``, ``upsert_locations``, ``write_batch``,
``locations_missing_details``, ``write_location_details``, ``mark_details_missing``,
``forget_failed``.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field, fields

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geotool.db import sqlfiles
from geotool.geocode.types import AddressResult, LocationRecord


@dataclass(frozen=True)
class PendingPoint:
    """One coordinate to query and the images that share it (after rounding).

    ``cached_status``/``cached_location_ids`` are filled when the cache already holds the
    answer for this coordinate in the requested namespace.
    """

    lat: float
    lon: float
    image_ids: tuple[int, ...]
    cached_status: str | None = None
    cached_location_ids: tuple[int, ...] | None = None
    cached_detail: str | None = None


@dataclass
class BatchCounts:
    """What one ``write_batch`` call wrote."""

    images: int = 0
    ok: int = 0
    unplaceable: int = 0
    failed: int = 0
    address_rows: int = 0
    skipped_done: int = 0  # images another run had already finished
    cached_points: int = 0
    locations: set[int] = field(default_factory=set)

    def add(self, other: BatchCounts) -> None:
        for f in fields(self):
            if f.name == "locations":
                self.locations |= other.locations
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def is_postcode(loc: LocationRecord) -> bool:
    """Nominatim marks postcodes as type ``postcode`` (``place=postcode``,
    ``boundary=postal_code``) or rank_address 5; geotool never stores them."""
    return (loc.type or "") in {"postcode", "postal_code"} or loc.rank_address == 5


def clean_vector(locations: Iterable[LocationRecord]) -> list[LocationRecord]:
    """Drop postcodes and repeated locations (keeping the finest position)."""
    seen: set[str] = set()
    out: list[LocationRecord] = []
    for loc in locations:
        if is_postcode(loc) or loc.osm_key in seen:
            continue
        seen.add(loc.osm_key)
        out.append(loc)
    return out


def count_pending(conn: Connection, dataset: int, precision: int | None = None, *,
                  distinct: bool = True) -> tuple[int, int]:
    """(images without an ``image_geocodes`` row, distinct query coordinates among them);
    ``distinct=False`` counts the images only (both numbers are then that count)."""
    if not distinct:
        images = sqlfiles.run(conn, "geocode/pending_images", d=dataset)
        assert images is not None
        n = int(images.scalar_one())
        return n, n
    result = sqlfiles.run(conn, "geocode/pending_count", d=dataset, precision=precision)
    assert result is not None
    images, points = tuple(result.one())
    return int(images), int(points)


def iter_pending_points(
    engine: Engine,
    dataset: int,
    precision: int | None = None,
    namespace: str | None = None,
    chunk: int = 5000,
) -> Generator[PendingPoint, None, None]:
    """Stream the dataset's not-yet-geocoded coordinates, deduplicated.

    ``precision`` rounds coordinates to that many decimal places before grouping (None:
    exact coordinates). With ``namespace``, each point carries the cached answer when
    the cache has one. Points come in (lat, lon) order; the query runs on its own
    connection with a server-side cursor, so memory stays flat on millions of images.
    """
    (stmt,) = sqlfiles.load("geocode/pending_points")
    params = {"d": dataset, "precision": precision, "ns": namespace}
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(
            sa.text(stmt), params
        )
        for lat, lon, ids, status, loc_ids, detail in result:
            yield PendingPoint(
                float(lat), float(lon), tuple(int(i) for i in ids), status,
                tuple(int(x) for x in loc_ids) if loc_ids is not None else None, detail,
            )


_LOC_COLS = (
    "osm_key", "osm_type", "osm_id", "name", "name_en", "category", "type", "admin_level",
    "rank_address", "is_area", "country_code", "wikidata", "wikipedia", "population",
    "place", "importance",
)

def _location_json(loc: LocationRecord, details_source: str | None,
                   data_key: str | None) -> dict[str, object]:
    row: dict[str, object] = {c: getattr(loc, c) for c in _LOC_COLS}
    row["wkt"] = loc.geometry_wkt
    row["clat"], row["clon"] = loc.centroid if loc.centroid else (None, None)
    row["details_source"] = details_source
    row["data_key"] = data_key
    return row


def upsert_locations(
    conn: Connection, records: Iterable[LocationRecord], details_source: str | None = None,
    data_key: str | None = None,
) -> dict[str, int]:
    """Insert or update locations by ``osm_key``; returns osm_key → ``locations.id``.

    Runs in the caller's transaction. ``details_source`` marks the records as carrying
    full details (attributes + geometry); leave it None for attributes from a reverse
    answer so the details step still fetches the polygon. ``data_key`` names the data the
    records come from (a geocoder's ``data_key``): a stored row from other data is
    replaced, not merged, and its details are fetched again.
    """
    merged: dict[str, LocationRecord] = {}
    for loc in records:
        merged.setdefault(loc.osm_key, loc)
    if not merged:
        return {}
    payload = json.dumps([_location_json(loc, details_source, data_key)
                          for loc in merged.values()])
    result = sqlfiles.run(conn, "geocode/store_locations", rows=payload)
    assert result is not None
    return {str(row.osm_key): int(row.id) for row in result}


def write_batch(
    engine: Engine,
    source: str,
    items: Sequence[tuple[Sequence[int], AddressResult]],
    namespace: str | None = None,
    cached: Sequence[PendingPoint] = (),
    data_key: str | None = None,
) -> BatchCounts:
    """Store a batch of answers in one transaction.

    ``items`` pairs the image ids that share a queried coordinate with the geocoder's
    answer for it; ``cached`` are pending points whose answer came from the cache.
    Images already finished (by another run) are skipped. With ``namespace``, fresh
    ``ok``/``unplaceable`` answers are cached under the queried (lat, lon). ``data_key``:
    see :func:`upsert_locations`.
    """
    counts = BatchCounts()
    with engine.begin() as conn:
        vectors = [clean_vector(r.locations) if r.status == "ok" else [] for _, r in items]
        ids = upsert_locations(conn, (loc for vec in vectors for loc in vec), data_key=data_key)
        # (image_id, status, detail, location ids finest first)
        rows: list[tuple[int, str, str | None, list[int]]] = []
        cache_rows: list[dict[str, object]] = []
        for (image_ids, result), vec in zip(items, vectors, strict=True):
            loc_ids = [ids[loc.osm_key] for loc in vec]
            status = result.status
            if status == "ok" and not loc_ids:
                status = "unplaceable"
            for image_id in image_ids:
                rows.append((int(image_id), status, result.detail, loc_ids))
            if namespace is not None and status in ("ok", "unplaceable"):
                cache_rows.append({"lat": result.lat, "lon": result.lon, "status": status,
                                   "ids": loc_ids, "detail": result.detail})
        for point in cached:
            counts.cached_points += 1
            loc_ids = list(point.cached_location_ids or ())
            for image_id in point.image_ids:
                rows.append((image_id, point.cached_status or "failed", point.cached_detail,
                             loc_ids))
        _write_images(conn, source, rows, counts)
        if cache_rows:
            sqlfiles.run(conn, "geocode/store_cache", ns=namespace, rows=json.dumps(cache_rows))
    return counts


def _write_images(
    conn: Connection,
    source: str,
    rows: list[tuple[int, str, str | None, list[int]]],
    counts: BatchCounts,
) -> None:
    if not rows:
        return
    written = sqlfiles.run(conn, "geocode/store_geocodes", source=source, rows=json.dumps(
        [{"image_id": i, "status": s, "detail": d} for i, s, d, _ in rows]))
    assert written is not None
    claimed = {int(r[0]) for r in written}
    mine = [r for r in rows if r[0] in claimed]
    counts.images += len(mine)
    counts.skipped_done += len(rows) - len(mine)
    if not mine:
        return
    address = [
        {"i": image_id, "p": pos, "l": loc_id}
        for image_id, status, _, loc_ids in mine if status == "ok"
        for pos, loc_id in enumerate(loc_ids)
    ]
    sqlfiles.run(conn, "geocode/store_addresses", ids=[r[0] for r in mine],
                 rows=json.dumps(address))
    counts.address_rows += len(address)
    for _, status, _, loc_ids in mine:
        setattr(counts, status, getattr(counts, status) + 1)
        counts.locations.update(loc_ids)


OSM_TYPES = ("N", "W", "R", "C")


def _missing_details_sql(dataset: int | None, only_ids: Sequence[int] | None) -> str:
    where = ["l.details_source IS NULL", "l.osm_type = ANY(:types)"]
    if only_ids is not None:
        where.append("l.id = ANY(:ids)")
    if dataset is not None:
        where.append("EXISTS (SELECT 1 FROM image_addresses a JOIN images i ON i.id = a.image_id "
                     "WHERE a.location_id = l.id AND i.dataset_id = :d)")
    return "FROM locations l WHERE " + " AND ".join(where)


def locations_missing_details(
    conn: Connection,
    dataset: int | None = None,
    limit: int | None = None,
    only_ids: Sequence[int] | None = None,
    osm_types: Sequence[str] = OSM_TYPES,
) -> list[tuple[int, str]]:
    """(id, osm_key) of locations whose details (full attributes + geometry) are missing
    (``details_source`` is NULL), of the given OSM types (``C`` = ``C:<cc>`` countries),
    optionally only those in ``dataset``'s address vectors or among ``only_ids``."""
    sql = f"SELECT l.id, l.osm_key {_missing_details_sql(dataset, only_ids)} ORDER BY l.id"
    params: dict[str, object] = {"types": list(osm_types), "d": dataset,
                                 "ids": list(only_ids or ())}
    if limit is not None:
        sql += " LIMIT :limit"
        params["limit"] = limit
    return [(int(i), str(k)) for i, k in conn.execute(sa.text(sql), params)]


def count_locations_missing_details(
    conn: Connection, dataset: int | None = None, osm_types: Sequence[str] = OSM_TYPES
) -> int:
    """How many locations (of the dataset, of these types) still lack details."""
    return int(conn.execute(
        sa.text(f"SELECT count(*) {_missing_details_sql(dataset, None)}"),
        {"types": list(osm_types), "d": dataset}).scalar_one())


def write_location_details(
    engine: Engine, records: Sequence[LocationRecord], source: str,
    data_key: str | None = None,
) -> int:
    """Store full details (attributes + polygon or point) for locations, one transaction;
    marks them done with ``details_source = source``. Returns the number written."""
    with engine.begin() as conn:
        return len(upsert_locations(conn, records, details_source=source, data_key=data_key))


def mark_details_missing(engine: Engine, osm_keys: Sequence[str], source: str) -> None:
    """Mark locations whose details the source cannot provide (keeps what is stored),
    so the details step does not ask again: ``details_source = '<source>:none'``."""
    if not osm_keys:
        return
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE locations SET details_source = :s, updated_at = now() "
                    "WHERE osm_key = ANY(:keys) AND details_source IS NULL"),
            {"s": f"{source}:none", "keys": list(osm_keys)},
        )


def forget_failed(engine: Engine, dataset: int) -> int:
    """Delete the dataset's ``failed`` geocode rows so that a run tries them again."""
    with engine.begin() as conn:
        res = conn.execute(
            sa.text("DELETE FROM image_geocodes g USING images i WHERE g.image_id = i.id "
                    "AND i.dataset_id = :d AND g.status = 'failed'"),
            {"d": dataset},
        )
        return int(res.rowcount or 0)
