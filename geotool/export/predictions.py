"""Export a model's predictions for people and programs without database access.

``csv``: the GeoEstimation inference format ``img_id,p_key,pred_class,pred_lat,pred_lng``,
one row per photo and partitioning (``p_key`` = the partitioning's name, ``pred_class`` =
the class index of the flat answer) plus one row with ``p_key = hierarchy`` (the
hierarchical answer's fine class), as GeoEstimation's inference script writes it; then a
sixth column ``mode`` (``flat`` or ``hier``), so a program need not know the ``hierarchy``
convention (readers of the five GeoEstimation columns are unaffected).

``gpkg``: a GeoPackage for QGIS with two layers in EPSG:4326: ``predictions`` (a point at
every predicted coordinate) and ``errors`` (a line from the photo's true position to the
prediction, with its great-circle error). A line whose longitudes differ by more than
180° has its predicted end shifted by ±360°, so it takes the short way across the
antimeridian instead of crossing the whole map.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
import sqlalchemy as sa
from shapely.geometry import LineString, Point
from sqlalchemy.engine import Engine

from geotool.db import datasets
from geotool.errors import GeotoolError, InvalidValueError
from geotool.export.gpkg import check_out_path, write_geopackage
from geotool.learn.evaluate import pick_prediction_run
from geotool.learn.registry import get_model
from geotool.progress import NO_PROGRESS, Progress

FORMATS = ("csv", "gpkg")
CSV_HEADER = ("img_id", "p_key", "pred_class", "pred_lat", "pred_lng", "mode")
HIERARCHY_KEY = "hierarchy"
FIELDS: tuple[tuple[str, str], ...] = (
    ("img_id", "TEXT"), ("p_key", "TEXT"), ("mode", "TEXT"), ("level", "INTEGER"),
    ("pred_class", "INTEGER"), ("label", "TEXT"), ("probability", "REAL"),
    ("pred_lat", "REAL"), ("pred_lng", "REAL"), ("true_lat", "REAL"), ("true_lng", "REAL"),
    ("error_km", "REAL"), ("split", "TEXT"),
)

ROWS_SQL = """
SELECT i.external_id AS img_id,
       CASE WHEN p.mode = 'hier' THEN :hier ELSE pt.name END AS p_key,
       p.mode, p.level, p.class_index AS pred_class, c.label, p.probability,
       p.lat AS pred_lat, p.lon AS pred_lng, p.true_lat, p.true_lon AS true_lng,
       p.error_km, i.split
FROM predictions p
JOIN images i ON i.id = p.image_id
JOIN cells c ON c.id = p.cell_id
JOIN partitionings pt ON pt.id = c.partitioning_id
WHERE p.prediction_run_id = :run AND i.dataset_id = :ds AND i.split = :split
  AND (p.mode = 'flat' OR p.level = 0)
ORDER BY i.id, p.mode, p.level
"""


@dataclass(frozen=True)
class PredictionExportParams:
    """Export model ``model``'s newest matching predictions of ``dataset``/``split``
    (default dataset: the one its set was built from; ``crops``/``combine`` pick the
    prediction run) to ``path`` as ``fmt`` (csv or gpkg; default: from the suffix)."""

    model: str
    path: Path
    fmt: str | None = None
    dataset: str | None = None
    split: str = "test"
    crops: int | None = None
    combine: str | None = None

    @property
    def format(self) -> str:
        return (self.fmt or Path(self.path).suffix.lstrip(".")).lower()

    def validate(self) -> None:
        if self.format not in FORMATS:
            raise InvalidValueError(f"unknown export format {self.format!r} for {self.path}; "
                                    "use --format csv or gpkg")


@dataclass(frozen=True)
class PredictionExportSummary:
    """What was written: rows (CSV) or points and lines (GeoPackage)."""

    path: Path
    rows: int
    prediction_run_id: int


def prediction_rows(engine: Engine, model_name: str, dataset: str | None = None,
                    split: str = "test", crops: int | None = None,
                    combine: str | None = None) -> tuple[int, Iterator[dict[str, Any]]]:
    """(prediction run id, rows in ``FIELDS`` order): flat rows per level, then the
    hierarchical row (``p_key = hierarchy``), per photo in id order, streamed."""
    with engine.connect() as conn:
        model = get_model(conn, model_name)
        if dataset is None:
            ds = conn.execute(sa.text("SELECT dataset_id FROM partitioning_sets WHERE id = :s"),
                              {"s": model.set_id}).scalar()
        else:
            ds = datasets.dataset_id(conn, dataset)
        if ds is None:
            raise GeotoolError(f"no dataset {dataset!r} for model {model_name!r}; "
                               "pass --dataset NAME")
        run = pick_prediction_run(conn, model, int(ds), split, crops, combine).id

    def rows() -> Iterator[dict[str, Any]]:
        with engine.connect() as conn:
            result = conn.execute(sa.text(ROWS_SQL),
                                  {"run": run, "ds": ds, "split": split,
                                   "hier": HIERARCHY_KEY},
                                  execution_options={"stream_results": True,
                                                     "yield_per": 5000})
            for r in result.mappings():
                yield dict(r)

    return run, rows()


def write_csv(rows: Iterator[dict[str, Any]], path: Path) -> int:
    """The GeoEstimation CSV; returns the number of rows."""
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for r in rows:
            writer.writerow((r["img_id"], r["p_key"], r["pred_class"],
                             repr(float(r["pred_lat"])), repr(float(r["pred_lng"])),
                             r["mode"]))
            n += 1
    return n


def error_line(true_lat: float, true_lng: float, pred_lat: float, pred_lng: float
               ) -> LineString:
    """True position → prediction; the predicted end shifted by ±360° when that is shorter."""
    if pred_lng - true_lng > 180:
        pred_lng -= 360
    elif true_lng - pred_lng > 180:
        pred_lng += 360
    return LineString([(true_lng, true_lat), (pred_lng, pred_lat)])


def write_gpkg(rows: Iterator[dict[str, Any]], path: Path) -> int:
    """Points and error lines; returns the number of predictions written."""
    with write_geopackage(path) as package:
        points = package.layer("predictions", "POINT", FIELDS)
        lines = package.layer("errors", "LINESTRING", FIELDS)
        for r in rows:
            values = {name: r[name] for name, _ in FIELDS}
            points.add(shapely.to_wkb(Point(r["pred_lng"], r["pred_lat"])), values)
            lines.add(shapely.to_wkb(error_line(r["true_lat"], r["true_lng"], r["pred_lat"],
                                                r["pred_lng"])), values)
    return points.count


def export_predictions(engine: Engine, params: PredictionExportParams, *,
                       progress: Progress = NO_PROGRESS) -> PredictionExportSummary:
    """Write the model's newest matching predictions (:class:`PredictionExportParams`);
    ``progress`` gets one phase."""
    params.validate()
    p = params
    check_out_path(Path(p.path))
    progress.phase(f"exporting the predictions of {p.model}")
    run, rows = prediction_rows(engine, p.model, p.dataset, p.split, p.crops, p.combine)
    path = Path(p.path)
    n = write_csv(rows, path) if p.format == "csv" else write_gpkg(rows, path)
    return PredictionExportSummary(path, n, run)
