"""The offline geocoder: admin boundary files loaded into PostGIS, points placed by one join.

Users without a Nominatim (and the demo) still get address vectors: ``load_boundaries``
reads a GeoJSON, GeoPackage or Shapefile of admin areas with names and levels (the
synthetic planet's ``boundaries.geojson``, Natural Earth, GADM, ...) into ``locations``
plus the ``boundaries``/``boundary_parts`` tables; ``BoundaryGeocoder`` then answers
every point by point-in-polygon in ONE SQL join against ``ST_Subdivide``d pieces (GiST
index), finest (highest admin level, then smallest area) first.

Keys: a feature whose key looks like an OSM id (``R62422``, ``relation/62422``) keeps it
as ``osm_key`` so the same place from Nominatim and from a boundary file is one location.
Any other key becomes ``B:<source>:<key>`` (``source`` = the file's stem unless given),
and a feature without a key field gets its 0-based position as key. Such locations have
``osm_type`` ``B``.

GeoJSON is read with the standard ``json`` module and shapely; GeoPackage and Shapefile
need ``pyogrio`` (which ships GDAL in its wheel). Files must be in WGS84 (EPSG:4326).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import shapely
import sqlalchemy as sa
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Connection, Engine

from geotool.db import sqlfiles
from geotool.db.copy import copy_rows
from geotool.errors import GeotoolError
from geotool.geocode.types import (
    AddressResult,
    Geocoder,
    GeocoderOptions,
    LocationRecord,
    parse_osm_key,
)
from geotool.progress import NO_PROGRESS, Progress

GEOJSON_SUFFIXES = (".geojson", ".json")
OGR_SUFFIXES = (".gpkg", ".shp", ".zip", ".fgb")
# Field names tried in order when the user names none (synthetic planet, OSM exports,
# Natural Earth, geoBoundaries, GADM).
KEY_FIELDS = ("key", "osm_key", "osm_id", "@id", "id", "shapeID", "adm1_code", "GID_5",
              "GID_4", "GID_3", "GID_2", "GID_1", "GID_0", "ISO_A2")
NAME_FIELDS = ("name", "NAME", "shapeName", "NAME_5", "NAME_4", "NAME_3", "NAME_2", "NAME_1",
               "NAME_0", "COUNTRY", "ADMIN", "name_local")
NAME_EN_FIELDS = ("name_en", "name:en", "NAME_EN", "NAME_ENGLI")
LEVEL_FIELDS = ("admin_level", "ADMIN_LEVEL", "adm_level", "level", "LEVEL")
COUNTRY_FIELDS = ("country_code", "ISO_A2", "iso_a2", "ISO", "GID_0", "shapeGroup")
PARENT_FIELDS = ("parent", "parent_key")
SUBDIVIDE_VERTICES = 64
_OSM_KEY = re.compile(r"^(?:[NWRnwr]:?\d+|(?:node|way|relation)/\d+)$")


class BoundaryFileError(GeotoolError, ValueError):
    """A boundary file cannot be read or lacks what the geocoder needs."""


@dataclass(frozen=True)
class BoundaryFeature:
    """One admin area read from a file, ready for the database."""

    osm_key: str
    source_key: str
    name: str | None
    name_en: str | None
    admin_level: int
    country_code: str | None
    parent_key: str | None
    geometry: BaseGeometry


@dataclass(frozen=True)
class FieldChoice:
    """Which attribute of the file holds what (None: not present / not asked)."""

    key: str | None = None
    name: str | None = None
    name_en: str | None = None
    level: str | None = None
    country: str | None = None
    parent: str | None = None


@dataclass(frozen=True)
class LoadSummary:
    """What ``load_boundaries`` wrote."""

    source: str
    features: int
    parts: int
    levels: dict[int, int]


# --------------------------------------------------------------------------- reading
def _read_geojson(path: Path) -> tuple[list[str], Iterator[tuple[dict[str, Any], Any]]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BoundaryFileError(f"{path} is not valid GeoJSON ({exc}); export the layer as "
                                "GeoJSON (RFC 7946) or pass a GeoPackage/Shapefile") from exc
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise BoundaryFileError(f"{path} is not a GeoJSON FeatureCollection "
                                "(its top-level 'type' must be 'FeatureCollection')")
    features = document.get("features") or []
    names: list[str] = []
    for feature in features[:1000]:
        for name in (feature.get("properties") or {}):
            if name not in names:
                names.append(name)

    def rows() -> Iterator[tuple[dict[str, Any], Any]]:
        for feature in features:
            yield feature.get("properties") or {}, feature.get("geometry")

    return names, rows()


def _read_ogr(path: Path, layer: str | None) -> tuple[list[str], Iterator[tuple[dict[str, Any],
                                                                                 Any]]]:
    try:
        from pyogrio import raw
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise BoundaryFileError(
            f"reading {path.suffix} files needs the 'pyogrio' package "
            "(pip install pyogrio); or convert the file to GeoJSON") from exc
    try:
        meta, _, geometries, field_data = raw.read(path, layer=layer)
    except Exception as exc:  # pyogrio raises its own DataSourceError/DataLayerError
        raise BoundaryFileError(f"cannot read {path}: {exc}") from exc
    crs = (meta.get("crs") or "EPSG:4326").upper()
    if crs not in ("EPSG:4326", "OGC:CRS84"):
        raise BoundaryFileError(
            f"{path} is in {crs}; geotool needs WGS84 lon/lat (EPSG:4326). Reproject it, "
            f"e.g. ogr2ogr -t_srs EPSG:4326 out.gpkg {path.name}")
    names = [str(n) for n in meta["fields"]]

    def rows() -> Iterator[tuple[dict[str, Any], Any]]:
        for index, wkb in enumerate(geometries):
            props = {name: _plain(column[index]) for name, column in zip(names, field_data,
                                                                         strict=True)}
            yield props, None if wkb is None else shapely.from_wkb(wkb)

    return names, rows()


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _pick(explicit: str | None, candidates: Sequence[str], available: Sequence[str],
          what: str, path: Path) -> str | None:
    if explicit is not None:
        if explicit not in available:
            raise BoundaryFileError(
                f"{path} has no field {explicit!r} for the {what}; its fields are: "
                f"{', '.join(available) or '(none)'}")
        return explicit
    return next((c for c in candidates if c in available), None)


def choose_fields(available: Sequence[str], path: Path, *, key_field: str | None = None,
                  name_field: str | None = None, name_en_field: str | None = None,
                  level_field: str | None = None, country_field: str | None = None,
                  level: int | None = None) -> FieldChoice:
    """Resolve which fields to read, explicit names first, then the known layouts."""
    choice = FieldChoice(
        key=_pick(key_field, KEY_FIELDS, available, "key", path),
        name=_pick(name_field, NAME_FIELDS, available, "name", path),
        name_en=_pick(name_en_field, NAME_EN_FIELDS, available, "English name", path),
        level=None if level is not None and level_field is None else
        _pick(level_field, LEVEL_FIELDS, available, "admin level", path),
        country=_pick(country_field, COUNTRY_FIELDS, available, "country code", path),
        parent=_pick(None, PARENT_FIELDS, available, "parent", path),
    )
    if choice.name is None:
        raise BoundaryFileError(
            f"{path}: no name field found (tried {', '.join(NAME_FIELDS)}); name it with "
            f"--name-field. Fields present: {', '.join(available) or '(none)'}")
    if choice.level is None and level is None:
        raise BoundaryFileError(
            f"{path}: no admin level field found (tried {', '.join(LEVEL_FIELDS)}); name it "
            "with --level-field, or give one level for the whole file with --level "
            f"(e.g. --level 2 for countries). Fields present: {', '.join(available)}")
    return choice


def source_name(path: Path) -> str:
    """The default source name of a file: its stem."""
    return path.name.split(".")[0] or "boundaries"


def boundary_key(raw_key: str, source: str) -> str:
    """``R62422`` stays an OSM key; anything else becomes ``B:<source>:<key>``."""
    text = raw_key.strip()
    if _OSM_KEY.match(text):
        letter, number = parse_osm_key(text)
        return f"{letter}{number}"
    return f"B:{source}:{text}"


def _level(value: Any, path: Path, index: int) -> int:
    try:
        level = int(float(value))
    except (TypeError, ValueError):
        raise BoundaryFileError(
            f"{path}: feature {index} has admin level {value!r}, not a number; fix the file "
            "or choose another field with --level-field") from None
    if not 0 <= level <= 32:
        raise BoundaryFileError(f"{path}: feature {index} has admin level {level}; "
                                "levels run from 0 to 32")
    return level


def read_boundaries(path: Path | str, *, source: str | None = None, layer: str | None = None,
                    key_field: str | None = None, name_field: str | None = None,
                    name_en_field: str | None = None, level_field: str | None = None,
                    country_field: str | None = None,
                    level: int | None = None) -> list[BoundaryFeature]:
    """Read the admin areas of a GeoJSON/GeoPackage/Shapefile; raise ``BoundaryFileError``
    with the file, the feature and a remedy when something is missing or wrong."""
    path = Path(path)
    if not path.is_file():
        raise BoundaryFileError(f"boundary file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in GEOJSON_SUFFIXES:
        available, rows = _read_geojson(path)
    elif suffix in OGR_SUFFIXES:
        available, rows = _read_ogr(path, layer)
    else:
        raise BoundaryFileError(
            f"{path}: unknown boundary file type {suffix!r}; use GeoJSON (.geojson), "
            "GeoPackage (.gpkg) or Shapefile (.shp)")
    fields = choose_fields(available, path, key_field=key_field, name_field=name_field,
                           name_en_field=name_en_field, level_field=level_field,
                           country_field=country_field, level=level)
    src = source or source_name(path)
    out: list[BoundaryFeature] = []
    seen: set[str] = set()
    for index, (props, geometry) in enumerate(rows):
        geom = _area(geometry, path, index)
        if geom is None:
            continue
        raw_key = props.get(fields.key) if fields.key else None
        source_key = str(index if raw_key is None else raw_key)
        key = boundary_key(source_key, src)
        if key in seen:
            raise BoundaryFileError(f"{path}: key {source_key!r} occurs twice (feature {index});"
                                    " choose a unique field with --key-field")
        seen.add(key)
        lvl = level if fields.level is None else _level(props.get(fields.level), path, index)
        country = props.get(fields.country) if fields.country else None
        parent = props.get(fields.parent) if fields.parent else None
        out.append(BoundaryFeature(
            osm_key=key, source_key=source_key,
            name=_text(props.get(fields.name)) if fields.name else None,
            name_en=_text(props.get(fields.name_en)) if fields.name_en else None,
            admin_level=int(lvl if lvl is not None else 0),
            country_code=_country(country),
            parent_key=None if parent is None else boundary_key(str(parent), src),
            geometry=geom))
    if not out:
        raise BoundaryFileError(f"{path} holds no polygon features; a boundary file needs "
                                "Polygon or MultiPolygon geometries")
    return out


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _country(value: Any) -> str | None:
    text = _text(value)
    return text.lower() if text is not None and len(text) == 2 else None


def _area(geometry: Any, path: Path, index: int) -> BaseGeometry | None:
    if geometry is None:
        return None
    try:
        geom = geometry if isinstance(geometry, BaseGeometry) else shape(geometry)
    except (AttributeError, TypeError, ValueError, shapely.errors.GEOSException) as exc:
        raise BoundaryFileError(f"{path}: feature {index} has a broken geometry ({exc})") from exc
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        return None  # points/lines (labels, rivers) are not boundaries
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180.5 or maxx > 180.5 or miny < -90.5 or maxy > 90.5:
        raise BoundaryFileError(
            f"{path}: feature {index} has coordinates outside lon/lat range "
            f"({minx:.1f}, {miny:.1f}, {maxx:.1f}, {maxy:.1f}); the file must be in EPSG:4326")
    return geom


# --------------------------------------------------------------------------- loading
def load_boundaries(engine: Engine, features: Sequence[BoundaryFeature], source: str, *,
                    replace: bool = True, progress: Progress = NO_PROGRESS
                    ) -> LoadSummary:
    """Write features into ``locations``, ``boundaries`` and ``boundary_parts`` in one
    transaction (a crash leaves the previous state). With ``replace``, the source's
    boundaries from an earlier load are dropped first. ``progress``: the phase "loading
    boundaries", advanced by features, then "indexing boundaries"."""
    progress.phase("loading boundaries", len(features))
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TEMP TABLE boundary_stage (osm_key text, source_key text, name text, "
            "name_en text, admin_level smallint, country_code text, parent_key text, "
            "wkb bytea) ON COMMIT DROP"))
        rows = ((f.osm_key, f.source_key, f.name, f.name_en, f.admin_level, f.country_code,
                 f.parent_key, shapely.to_wkb(f.geometry)) for f in features)
        n = copy_rows(conn, "boundary_stage",
                      ["osm_key", "source_key", "name", "name_en", "admin_level",
                       "country_code", "parent_key", "wkb"], _counted(rows, progress))
        progress.phase("indexing boundaries")
        result = sqlfiles.run(conn, "geocode/boundaries_load", source=source, replace=replace,
                              max_vertices=SUBDIVIDE_VERTICES)
        parts = int(result.scalar_one()) if result is not None else 0
        levels = {int(lv): int(c) for lv, c in conn.execute(sa.text(
            "SELECT admin_level, count(*) FROM boundaries WHERE source = :s GROUP BY 1 "
            "ORDER BY 1"), {"s": source})}
    return LoadSummary(source=source, features=n, parts=parts, levels=levels)


def _counted(rows: Iterator[tuple[Any, ...]],
             progress: Progress) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        yield row
        progress.advance(1)


# --------------------------------------------------------------------------- geocoding
def locate_points(conn: Connection, points: Sequence[tuple[float, float]]
                  ) -> list[tuple[int, ...]]:
    """For each (lat, lon), the ids of the containing boundary locations, finest first
    (empty tuple: outside every boundary). One COPY in, one join, one result set out."""
    conn.execute(sa.text(
        "CREATE TEMP TABLE IF NOT EXISTS boundary_points (idx integer, lat float8, lon float8) "
        "ON COMMIT DROP"))
    conn.execute(sa.text("TRUNCATE boundary_points"))
    copy_rows(conn, "boundary_points", ["idx", "lat", "lon"],
              ((i, lat, lon) for i, (lat, lon) in enumerate(points)))
    result = sqlfiles.run(conn, "geocode/boundaries_lookup")
    found: list[tuple[int, ...]] = [()] * len(points)
    if result is not None:
        for idx, ids in cast("Iterable[tuple[int, list[int]]]", result):
            found[idx] = tuple(dict.fromkeys(ids))
    return found


class BoundaryGeocoder(Geocoder):
    """Address vectors from the loaded boundary files (``geotool boundaries load``)."""

    name = "boundaries"
    source = "boundaries"
    # namespace None (the default): answers change when boundaries are reloaded, so they
    # are never cached

    def __init__(self, engine: Engine, batch_size: int = 200_000) -> None:
        self.engine = engine
        self.batch_size = batch_size
        self._records: dict[int, LocationRecord] | None = None

    def records(self) -> dict[int, LocationRecord]:
        """Every boundary location by ``locations.id`` (read once)."""
        if self._records is None:
            with self.engine.connect() as conn:
                rows = conn.execute(sa.text(
                    "SELECT l.id, l.osm_key, l.osm_type, l.osm_id, l.name, l.name_en, "
                    "l.admin_level, l.rank_address, l.country_code, "
                    "ST_Y(l.centroid), ST_X(l.centroid) "
                    "FROM boundaries b JOIN locations l ON l.id = b.location_id")).all()
            if not rows:
                raise BoundaryFileError(
                    "no boundaries are loaded; load a boundary file first, e.g. "
                    "geotool boundaries load world/boundaries.geojson")
            self._records = {
                int(r[0]): LocationRecord(
                    osm_key=r[1], osm_type=r[2], osm_id=r[3], name=r[4], name_en=r[5],
                    category="boundary", type="administrative", admin_level=r[6],
                    rank_address=r[7], is_area=True, country_code=r[8],
                    centroid=None if r[9] is None else (float(r[9]), float(r[10])))
                for r in rows}
        return self._records

    def reverse_many(self, points: Sequence[tuple[float, float]]) -> Iterator[AddressResult]:
        """Address vectors for (lat, lon) points, in the input order."""
        records = self.records()
        for start in range(0, len(points), self.batch_size):
            chunk = points[start:start + self.batch_size]
            with self.engine.begin() as conn:
                found = locate_points(conn, chunk)
            for (lat, lon), ids in zip(chunk, found, strict=True):
                if ids:
                    yield AddressResult(lat, lon, "ok", tuple(records[i] for i in ids))
                else:
                    yield AddressResult(lat, lon, "unplaceable",
                                        detail="outside every loaded boundary")


def make_geocoder(options: GeocoderOptions) -> BoundaryGeocoder:
    """Registry factory for ``--geocoder boundaries`` (geotool's own database)."""
    from geotool.db.engine import get_engine

    return BoundaryGeocoder(get_engine(options.database_url))

