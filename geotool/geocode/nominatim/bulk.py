"""Bulk reverse geocoding: many points at once, in SQL, straight on Nominatim's tables.

Nominatim answers one coordinate per ``reverse`` call, a handful of queries each; the
paper's 4.7 M coordinates take days that way. This geocoder loads a batch of points into
a temp table and runs Nominatim's reverse rules as set-based SQL
(``sql/geocode/bulk_reverse.sql``, then ``sql/geocode/bulk_address.sql``), so one round
of joins answers 50,000 points. Rules reproduced from ``nominatim_api/reverse.py`` and
``results.py`` (version 5.x), zoom 18 (max rank 30), layers address + POI:

* streets (rank 26-29), address points and POIs within 0.006 + 0.001° (areas only when
  their centroid is that close): each point's nearest one by a nearest-neighbour index
  scan, then only those within 0.001° of it (no geometries kept, so temporary space is
  ≈ 8 KB per point however dense the data); the closest wins (equal distance: the
  smaller area, as Nominatim's sort does); a house number within 0.001° of the closest
  street replaces it; a POI node inside the closest building replaces it; an address
  interpolation line closer than the result (or along the closest street) replaces it;
* otherwise the highest-ranked named admin/place area containing the point (ranks 5-25,
  not 5 or 11), or a place node inside it within ``reverse_place_diameter``; otherwise a
  place node in the country, the country's rank-4 place, or the ``country_name`` entry;
  areas and place nodes are taken from the 50 highest-ranked candidates only, as
  Nominatim does;
* the address: the result (when named), ``place_addressline`` rows of the result and of
  its parent with Nominatim's choice of one row per rank, the country, the parent.

The address vector then follows :func:`geotool.geocode.nominatim.inprocess.address_vector`:
rows with ``isaddress``, no postcodes, house numbers or nameless rows; the country as its
admin_level 2 relation, else ``C:<cc>``; each location's attributes from the placex row
the answer names (the rule both geocoders share). Not reproduced: TIGER house numbers (US
only), the rank-0 "feature" layers (railway, natural, man-made), and Nominatim's row
order where candidates tie exactly (same distance and area, or same rank at the limit of
50): bulk breaks those by OSM type and id, never by ``place_id`` (docs/geocoding.md, "Known
differences"). Refuses a Nominatim database of another major version than 5.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geotool.db import sqlfiles
from geotool.db.copy import copy_rows
from geotool.db.urls import dsn_database, nominatim_to_conninfo
from geotool.errors import GeotoolError, InvalidValueError
from geotool.geocode.nominatim.local import DATA_KEY_SQL, data_key_of, local_nominatim_environ
from geotool.geocode.nominatim.records import country_record, record_from_parts
from geotool.geocode.types import AddressResult, Geocoder, GeocoderOptions, LocationRecord

DEFAULT_BATCH = 50_000
# The Nominatim database versions whose tables and reverse rules the bulk SQL reproduces
# (written against nominatim-api 5.3's reverse.py): the major version must match.
SUPPORTED_MAJOR = 5
NEEDED_TABLES = ("placex", "place_addressline", "location_property_osmline",
                 "country_osm_grid", "country_name")


class BulkGeocodeError(GeotoolError, RuntimeError):
    """The database is not a usable Nominatim database for bulk geocoding."""


def nominatim_engine(dsn: str) -> Engine:
    """A SQLAlchemy engine on a Nominatim database given its DSN."""
    conninfo = nominatim_to_conninfo(dsn)
    return sa.create_engine("postgresql+psycopg://",
                            creator=lambda: psycopg.connect(conninfo), pool_size=1)


@dataclass(frozen=True)
class BulkAnswer:
    """One point's address: OSM keys finest first, the placex row behind each key (None
    for the country row Nominatim builds from ``country_name``), the country code."""

    keys: tuple[str, ...]
    place_ids: tuple[int | None, ...]
    country_code: str | None


def reverse_keys(conn: Connection, points: Sequence[tuple[float, float]],
                 reverse_sql: str = "geocode/bulk_reverse") -> list[BulkAnswer | None]:
    """For each (lat, lon), its address (keys ``R123``, ``C:de`` for a country known only
    from ``country_name``); None where Nominatim would find nothing. Runs in the caller's
    transaction (temp tables drop at commit). ``reverse_sql`` names the step-1 SQL file
    (benchmarks pass another version's path)."""
    sqlfiles.run(conn, "geocode/bulk_points")
    copy_rows(conn, "bulk_points", ["idx", "lat", "lon"],
              ((i, lat, lon) for i, (lat, lon) in enumerate(points)))
    conn.execute(sa.text("ANALYZE bulk_points"))
    sqlfiles.run(conn, reverse_sql)
    conn.execute(sa.text("ANALYZE bulk_result"))
    result = sqlfiles.run(conn, "geocode/bulk_address")
    out: list[BulkAnswer | None] = [None] * len(points)
    if result is not None:
        rows = cast(Iterable[tuple[int, list[str | None], list[int | None], str | None]], result)
        for idx, keys, place_ids, cc in rows:
            seen: dict[str, int | None] = {}
            for key, place_id in zip(keys, place_ids, strict=True):
                if key is not None and key not in seen:
                    seen[key] = None if place_id is None else int(place_id)
            out[idx] = BulkAnswer(tuple(seen), tuple(seen.values()), cc)
    return out


def fetch_place_records(conn: Connection, place_ids: Iterable[int]) -> dict[int, LocationRecord]:
    """Attributes of the placex rows the answers named, by place_id: the one rule for a
    location's category, type, rank, admin level and country code (the row's own
    ``country_code``, as Nominatim fills it at indexing), shared with the in-process
    geocoder."""
    ids = sorted(set(place_ids))
    if not ids:
        return {}
    rows = sqlfiles.run(conn, "geocode/bulk_places", ids=ids)
    assert rows is not None
    return {int(pid): record_from_parts(str(osm_type), int(osm_id), names, (cls, typ),
                                        extratags, admin_level, rank,
                                        str(cc).lower() if cc else None)
            for pid, osm_type, osm_id, names, cls, typ, extratags, admin_level, rank, cc
            in cast(Iterable[tuple[Any, ...]], rows)}


def country_row_record(key: str, cc: str | None, names: Mapping[str, str] | None
                       ) -> LocationRecord:
    """The location of an answer's country row (no placex row behind it): its boundary
    relation ``R…`` with only the country code, rank 4 and admin level 2 (the details
    step fills the rest), or ``C:<cc>`` from ``country_name``."""
    if key.startswith("C:"):
        return country_record(key[2:], names)
    return LocationRecord(osm_key=key, osm_type=key[0], osm_id=int(key[1:]), country_code=cc,
                          rank_address=4, admin_level=2)


class BulkNominatim(Geocoder):
    """A ``Geocoder`` that answers batches of points with SQL on a Nominatim database.

    ``dsn`` is Nominatim's ``pgsql:...`` DSN or a libpq string. Use as a context manager
    or call :meth:`close`.
    """

    name = "bulk"
    source = "bulk"
    fetches_details = True
    # coordinates per committed batch of ``geotool geocode`` (the CLI path): measured with
    # benchmarks/bench_geocode_cli.py, see docs/benchmarks.md
    pipeline_batch = 2000

    def __init__(self, dsn: str, batch_size: int = DEFAULT_BATCH, simplify: float = 0.0) -> None:
        if batch_size < 1:
            raise InvalidValueError(f"batch size must be at least 1, not {batch_size}")
        self.dsn = dsn
        self.batch_size = batch_size
        self.simplify = simplify
        self.engine = nominatim_engine(dsn)
        self._data_key: str | None = None
        self._places: dict[int, LocationRecord] = {}
        self._country_names: dict[str, Mapping[str, str] | None] = {}

    @property
    def data_key(self) -> str:
        """The imported data this database answers from (``nominatim.local``)."""
        if self._data_key is None:
            with self.engine.connect() as conn:
                self._data_key = data_key_of(conn.execute(sa.text(DATA_KEY_SQL)).one())
        return self._data_key

    @property
    def namespace(self) -> str:
        """The ``geocode_cache`` namespace: database name and imported data."""
        return f"bulk:{dsn_database(self.dsn, 'nominatim')}:{self.data_key}"

    def __enter__(self) -> BulkNominatim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connections."""
        self.engine.dispose()

    def check(self) -> str:
        """Raise ``BulkGeocodeError`` unless the database holds Nominatim's tables."""
        try:
            with self.engine.connect() as conn:
                present = set(conn.execute(sa.text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename = ANY(:t)"), {"t": list(NEEDED_TABLES)}).scalars())
                places = conn.execute(sa.text("SELECT count(*) FROM placex")).scalar_one() \
                    if "placex" in present else 0
        except sa.exc.OperationalError as exc:
            raise BulkGeocodeError(
                "cannot connect to the Nominatim database "
                f"({nominatim_to_conninfo(self.dsn).split()[0]}...): {exc.orig}") from exc
        missing = [t for t in NEEDED_TABLES if t not in present]
        if missing:
            raise BulkGeocodeError(
                f"the database is not an imported Nominatim database (missing tables: "
                f"{', '.join(missing)}); import one with `geotool nominatim import FILE`")
        version = self.database_version()
        check_supported_version(version)
        return f"Nominatim {version} database with {places:,} places (bulk SQL)"

    def database_version(self) -> str:
        """Nominatim's ``database_version`` property (e.g. ``5.3.3-0``), '' when absent."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.text(
                "SELECT CASE WHEN to_regclass('nominatim_properties') IS NOT NULL THEN "
                "(SELECT value FROM nominatim_properties WHERE property = 'database_version')"
                " END")).scalar_one()
        return str(value or "")

    def reverse_many(self, points: Sequence[tuple[float, float]]) -> Iterator[AddressResult]:
        """Address vectors for (lat, lon) points, in input order, a batch per transaction."""
        for start in range(0, len(points), self.batch_size):
            chunk = points[start:start + self.batch_size]
            with self.engine.begin() as conn:
                answers = reverse_keys(conn, chunk)
                unknown = {p for a in answers if a for p in a.place_ids
                           if p is not None} - set(self._places)
                self._places.update(fetch_place_records(conn, unknown))
                countries = {k[2:] for a in answers if a for k in a.keys
                             if k.startswith("C:")} - set(self._country_names)
                if countries:
                    self._country_names.update({str(cc): names for cc, names in conn.execute(
                        sa.text("SELECT country_code, name FROM country_name "
                                "WHERE country_code = ANY(:cc)"), {"cc": sorted(countries)})})
            for (lat, lon), answer in zip(chunk, answers, strict=True):
                found: list[LocationRecord] = []
                for key, place_id in zip(answer.keys if answer else (),
                                         answer.place_ids if answer else (), strict=True):
                    if place_id is not None:
                        if place_id in self._places:
                            found.append(self._places[place_id])
                    else:
                        assert answer is not None
                        found.append(country_row_record(
                            key, answer.country_code, self._country_names.get(key[2:])))
                if found:
                    yield AddressResult(lat, lon, "ok", tuple(found))
                else:
                    yield AddressResult(lat, lon, "unplaceable", detail="Unable to geocode")

    def details_many(self, osm_keys: Sequence[str]) -> list[LocationRecord | None]:
        """Full attributes and geometry (polygon simplified by ``simplify`` degrees, else
        the centroid) straight from placex; ``C:<cc>`` gets its country_osm_grid union."""
        with self.engine.begin() as conn:
            found = fetch_details(conn, osm_keys, self.simplify)
        return [found.get(key) for key in osm_keys]


def fetch_details(conn: Connection, osm_keys: Iterable[str], simplify: float
                  ) -> dict[str, LocationRecord]:
    """Details of places by OSM key, in one query per OSM type."""
    wanted: dict[str, list[int]] = {"N": [], "W": [], "R": []}
    countries = []
    for key in osm_keys:
        if key.startswith("C:"):
            countries.append(key[2:])
        elif key[:1] in wanted:
            wanted[key[0]].append(int(key[1:]))
    out: dict[str, LocationRecord] = {}
    for osm_type, ids in wanted.items():
        if not ids:
            continue
        rows = sqlfiles.run(conn, "geocode/bulk_details", t=osm_type, ids=ids, tol=simplify)
        assert rows is not None
        for (osm_id, names, cls, typ, tags, level, rank, cc, importance, wikipedia, is_area,
             wkt, clat, clon) in cast(Iterable[tuple[Any, ...]], rows):
            rec = record_from_parts(osm_type, int(osm_id), names, (cls, typ), tags, level, rank,
                                    cc, wikipedia=wikipedia, importance=importance,
                                    is_area=bool(is_area), geometry_wkt=wkt,
                                    centroid=(float(clat), float(clon)))
            out[rec.osm_key] = rec
    for cc in countries:
        outline = sqlfiles.run(conn, "geocode/country_outline", cc=cc, tol=simplify)
        assert outline is not None
        row = tuple(outline.one())
        base = country_record(cc, row[3])
        if row[0] is not None:
            base = replace(base, geometry_wkt=row[0], is_area=True,
                           centroid=(float(row[1]), float(row[2])))
        out[f"C:{cc}"] = base
    return out


def check_supported_version(version: str) -> None:
    """Raise ``GeotoolError`` unless ``version`` (Nominatim's database version) has the
    major version the bulk SQL was written for."""
    major = version.split(".", 1)[0]
    if major != str(SUPPORTED_MAJOR):
        raise GeotoolError(
            f"--geocoder bulk reproduces the reverse rules of Nominatim {SUPPORTED_MAJOR}.x, "
            f"but the Nominatim database is version {version or 'unknown'}; use "
            "`--geocoder nominatim` (in-process, any version), or import the data again "
            f"with nominatim-db {SUPPORTED_MAJOR}.x (`geotool nominatim import FILE --force`)")


def make_geocoder(options: GeocoderOptions) -> BulkNominatim:
    """Registry factory for ``--geocoder bulk``: the same Nominatim database the in-process
    geocoder would use (explicit DSN, ``NOMINATIM_DATABASE_DSN``, or the local import)."""
    environ, _ = local_nominatim_environ(options)
    batch = int(options.extra.get("bulk_batch_size", DEFAULT_BATCH))
    return BulkNominatim(environ["NOMINATIM_DATABASE_DSN"], batch_size=batch,
                         simplify=options.simplify)

