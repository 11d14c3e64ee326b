"""Export the cells of a partitioning set for people without database access.

GeoJSON (RFC 7946, written feature by feature) and GeoPackage (OGC 12-128r18, by
:mod:`geotool.export.gpkg`, shared with the predictions export). Geometries are
MultiPolygons in EPSG:4326, one feature per cell of every partitioning of the set.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely.wkb
import sqlalchemy as sa
from shapely.geometry import mapping
from sqlalchemy.engine import Engine

from geotool.export.gpkg import check_out_path, write_geopackage
from geotool.partition.params import PartitionError
from geotool.progress import NO_PROGRESS, Progress

FORMATS = ("gpkg", "geojson")
FIELDS: tuple[tuple[str, str], ...] = (
    ("set_name", "TEXT"), ("partitioning", "TEXT"), ("level", "INTEGER"),
    ("tau", "INTEGER"), ("class_index", "INTEGER"), ("label", "TEXT"),
    ("n_images", "INTEGER"), ("lat", "REAL"), ("lon", "REAL"), ("geom_source", "TEXT"),
    ("s2_token", "TEXT"), ("osm_key", "TEXT"),
)


def require_set(engine: Engine, set_name: str) -> None:
    """Raise a clear error when no partitioning set has this name."""
    with engine.connect() as conn:
        if conn.execute(sa.text("SELECT 1 FROM partitioning_sets WHERE name = :n"),
                        {"n": set_name}).first() is None:
            raise PartitionError(
                f"no partitioning set named {set_name!r}; see `geotool partitions list`"
            )


def cell_features(engine: Engine, set_name: str) -> Iterator[tuple[dict[str, Any], bytes]]:
    """(properties, MultiPolygon WKB) per cell of the set, level then class order."""
    require_set(engine, set_name)
    with engine.connect() as conn:
        result = conn.execute(sa.text(
            "SELECT s.name, p.name, p.level, p.tau, c.class_index, c.label, c.n_images, "
            "c.lat, c.lon, c.geom_source, c.s2_token, l.osm_key, "
            "ST_AsBinary(ST_Multi(ST_CollectionExtract(c.geom, 3))) "
            "FROM cells c JOIN partitionings p ON p.id = c.partitioning_id "
            "JOIN partitioning_sets s ON s.id = p.set_id "
            "LEFT JOIN locations l ON l.id = c.location_id "
            "WHERE s.name = :n ORDER BY p.level, c.class_index"), {"n": set_name},
            execution_options={"stream_results": True, "yield_per": 2000})
        for row in result:
            props = {name: row[i] for i, (name, _) in enumerate(FIELDS)}
            yield props, bytes(row[12]) if row[12] is not None else b""


def write_geojson(features: Iterator[tuple[dict[str, Any], bytes]], path: Path) -> int:
    """Write a FeatureCollection; returns the number of features."""
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write('{"type": "FeatureCollection", "features": [\n')
        for props, wkb in features:
            geometry = mapping(shapely.wkb.loads(wkb)) if wkb else None
            if n:
                fh.write(",\n")
            fh.write(json.dumps({"type": "Feature", "properties": props,
                                 "geometry": geometry}, ensure_ascii=False))
            n += 1
        fh.write("\n]}\n")
    return n


def write_gpkg(features: Iterator[tuple[dict[str, Any], bytes]], path: Path,
               table: str = "cells") -> int:
    """Write a GeoPackage with one feature table; returns the number of features."""
    with write_geopackage(path) as package:
        layer = package.layer(table, "MULTIPOLYGON", FIELDS)
        for props, wkb in features:
            layer.add(wkb, props)
    return layer.count


@dataclass(frozen=True)
class CellExportParams:
    """Export every cell of set ``set_name`` to ``path``, as ``fmt`` (gpkg or geojson;
    default: from the file suffix)."""

    set_name: str
    path: Path
    fmt: str | None = None

    @property
    def format(self) -> str:
        fmt = (self.fmt or Path(self.path).suffix.lstrip(".")).lower()
        return "geojson" if fmt == "json" else fmt

    def validate(self) -> None:
        if self.format not in FORMATS:
            raise PartitionError(f"unknown export format {self.format!r} for {self.path}; "
                                 "use --format gpkg or geojson")


@dataclass(frozen=True)
class CellExportSummary:
    """What was written: ``cells`` features to ``path`` as ``format``."""

    path: Path
    format: str
    cells: int


def export_cells(engine: Engine, params: CellExportParams, *,
                 progress: Progress = NO_PROGRESS) -> CellExportSummary:
    """Write the set's cells to ``params.path``; ``progress`` gets one phase."""
    params.validate()
    check_out_path(Path(params.path))
    require_set(engine, params.set_name)
    progress.phase(f"exporting {params.set_name}")
    features = cell_features(engine, params.set_name)
    path = Path(params.path)
    n = write_geojson(features, path) if params.format == "geojson" else write_gpkg(
        features, path)
    return CellExportSummary(path, params.format, n)
