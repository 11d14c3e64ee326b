"""EMP-16's location table (GeoFeather): the attributes of the locations its address
vectors name, so a user with EMP-16 needs neither Nominatim nor geocoding.

The table (``locations_meta_mp16_train-min_50.feather``, written by GeoPandas) has one
row per location: ``id`` (``R4632581``), ``osm_type``, ``osm_id``, ``geometry`` (WKB),
``latitude_center``, ``longitude_center``, ``category``, ``type``, ``admin_level``,
``rank_address``, ``isarea``, ``name_en``, ``localname``, ``country_code``,
``importance`` and ``extratags``. Columns that are absent are left null. The file is read
record batch by record batch and COPYed into a staging table, then
``sql/ingest/locations.sql`` upserts ``locations`` by ``osm_key``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from geotool.db import sqlfiles
from geotool.db.copy import psycopg_connection
from geotool.geocode.types import parse_osm_key
from geotool.ingest.errors import IngestError

LOCATION_COLUMNS = ("row_no", "osm_key", "osm_type", "osm_id", "name", "name_en", "category",
                    "type", "admin_level", "rank_address", "is_area", "country_code",
                    "wikidata", "wikipedia", "population", "place", "importance", "geom_wkb",
                    "lat", "lon")
LOCATION_TYPES = ("int8", "text", "text", "int8", "text", "text", "text", "text", "int2", "int2",
                  "bool", "text", "text", "text", "int8", "text", "float8", "bytea", "float8",
                  "float8")


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) else None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _extratags(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):  # pyarrow map arrays come back as (key, value) pairs
        return {k: v for k, v in value if isinstance(k, str)}
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def location_rows(path: Path | str) -> Iterator[tuple[Any, ...]]:
    """The rows of a GeoFeather location table as ``LOCATION_COLUMNS[1:]`` tuples."""
    try:
        import pyarrow as pa
        import pyarrow.ipc as ipc
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
        raise IngestError("reading a GeoFeather location table needs pyarrow "
                          "(pip install pyarrow)") from exc
    try:
        reader = ipc.open_file(pa.memory_map(str(path), "r"))
    except (OSError, pa.ArrowInvalid) as exc:
        raise IngestError(f"{path} is not a Feather (Arrow IPC) file: {exc}") from exc
    names = set(reader.schema.names)
    if "id" not in names and not {"osm_type", "osm_id"} <= names:
        raise IngestError(f"{path}: a location table needs an id column (R4632581) or "
                          f"osm_type and osm_id; it has {sorted(names)}")
    for i in range(reader.num_record_batches):
        for rec in reader.get_batch(i).to_pylist():
            yield _location_row(path, rec)


def _location_row(path: Path | str, rec: dict[str, Any]) -> tuple[Any, ...]:
    raw_key = _text(rec.get("id")) or f"{_text(rec.get('osm_type')) or ''}{rec.get('osm_id')}"
    try:
        letter, number = parse_osm_key(raw_key)
    except (ValueError, IndexError) as exc:
        raise IngestError(f"{path}: location id {raw_key!r} is not an OSM id such as "
                          "R4632581") from exc
    tags = _extratags(rec.get("extratags"))
    geometry = rec.get("geometry")
    is_area = rec.get("isarea", rec.get("is_area"))
    return (
        f"{letter}{number}", letter, number,
        _text(rec.get("localname", rec.get("name"))), _text(rec.get("name_en")),
        _text(rec.get("category")), _text(rec.get("type")),
        _int(rec.get("admin_level")), _int(rec.get("rank_address")),
        bool(is_area) if isinstance(is_area, bool) else None,
        _text(rec.get("country_code")),
        _text(rec.get("wikidata", tags.get("wikidata"))),
        _text(rec.get("wikipedia", tags.get("wikipedia"))),
        _int(rec.get("population", tags.get("population"))),
        _text(rec.get("place", tags.get("place"))),
        _float(rec.get("importance")),
        bytes(geometry) if isinstance(geometry, (bytes, bytearray)) and geometry else None,
        _float(rec.get("latitude_center")), _float(rec.get("longitude_center")),
    )


def load_location_table(conn: Connection, path: Path | str) -> int:
    """Upsert the locations of a GeoFeather table in the caller's transaction.

    Rows that came from a geocoder (``details_source`` other than null/``emp16``/
    ``emp16-locations``) are left as they are. Returns the number of rows written.
    """
    p = Path(path)
    if not p.is_file():
        raise IngestError(f"location table {p} does not exist")
    sqlfiles.run(conn, "ingest/locations_stage")
    pg = psycopg_connection(conn)
    columns = ", ".join(LOCATION_COLUMNS)
    with pg.cursor() as cur, cur.copy(f"COPY ingest_locations ({columns}) FROM STDIN") as cp:
        cp.set_types(list(LOCATION_TYPES))
        for row_no, row in enumerate(location_rows(p)):
            cp.write_row((row_no, *row))
    result = sqlfiles.run(conn, "ingest/locations")
    return int(result.rowcount) if result is not None else 0
