"""The ``models`` table: what a trained model is in the database, and loading it by name.

A model row keeps its family (``classifier`` or ``align``), status, best and last
checkpoints and best validation metrics. A classifier keeps its partitioning set's name,
the fingerprint and list of the classes it predicts (``set_id`` goes NULL when the set
is rebuilt; the model still knows its classes); an alignment model keeps its dataset
and its concept names instead.
This module only reads and writes rows (no PyTorch): loading a model by name is
:mod:`geotool.learn.lookup`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geotool.errors import GeotoolError
from geotool.learn.classes import SetClasses


@dataclass
class ModelRecord:
    """One row of ``models``."""

    id: int
    name: str
    set_name: str | None
    set_id: int | None
    backbone: str
    status: str
    checkpoint_path: str | None
    last_checkpoint_path: str | None
    class_fingerprint: str | None
    metrics: dict[str, Any] | None
    best_step: int | None
    params: dict[str, Any]
    created_at: Any
    updated_at: Any
    n_classes: list[int]
    family: str = "classifier"
    dataset_id: int | None = None
    concepts: list[str] | None = None


# status: a model left 'training' by a process that was killed shows its run's 'died'
_COLUMNS = ("m.id, m.name, m.set_name, m.set_id, m.arch, "
            "CASE WHEN m.status = 'training' AND r.status = 'died' THEN 'died' "
            "ELSE m.status END AS status, m.checkpoint_path, m.last_checkpoint_path, "
            "m.class_fingerprint, m.metrics, m.best_step, m.params, m.created_at, "
            "m.updated_at, m.classes, m.family, m.dataset_id, m.concepts")
_FROM = "models m LEFT JOIN runs_status r ON r.id = m.run_id"


def _record(row: Any) -> ModelRecord:
    classes = row.classes or {}
    n_classes = [len(lv.get("keys", [])) for lv in classes.get("levels", [])]
    return ModelRecord(int(row.id), row.name, row.set_name, row.set_id, row.arch, row.status,
                       row.checkpoint_path, row.last_checkpoint_path, row.class_fingerprint,
                       row.metrics, row.best_step, dict(row.params or {}), row.created_at,
                       row.updated_at, n_classes, row.family, row.dataset_id,
                       list(row.concepts) if row.concepts is not None else None)


#: The model families (``family`` of the training config): the paper's classifier and
#: the image–GPS alignment model (issue 20).
FAMILIES = ("classifier", "align")


def model_family(record: ModelRecord) -> str:
    """``classifier`` or ``align`` (``models.family``; older rows are classifiers)."""
    return str(record.family or "classifier")


def find_model(conn: Connection, name: str) -> ModelRecord | None:
    row = conn.execute(sa.text(f"SELECT {_COLUMNS} FROM {_FROM} WHERE m.name = :n"),
                       {"n": name}).one_or_none()
    return None if row is None else _record(row)


def get_model(conn: Connection, name: str) -> ModelRecord:
    """The model called ``name``, or an error that lists the known ones."""
    record = find_model(conn, name)
    if record is None:
        names = [r[0] for r in conn.execute(sa.text("SELECT name FROM models ORDER BY name"))]
        known = ", ".join(names) if names else "none yet; `geotool train` makes one"
        raise GeotoolError(f"no model named {name!r} (known: {known})")
    return record


@dataclass(frozen=True)
class CurvePoint:
    """One validation of a training run (``models show`` lists them)."""

    step: int
    epoch: int
    images_seen: int
    loss: float


def validation_curve(conn: Connection, model_id: int) -> list[CurvePoint]:
    """The model's validation loss at every validation, in step order."""
    rows = conn.execute(sa.text(
        "SELECT step, epoch, images_seen, value FROM training_metrics WHERE "
        "model_id = :m AND split = 'val' AND metric = 'loss' ORDER BY step"),
        {"m": model_id}).all()
    return [CurvePoint(int(s), int(e), int(n), float(v)) for s, e, n, v in rows]


def list_models(engine: Engine) -> list[ModelRecord]:
    with engine.connect() as conn:
        return [_record(r) for r in conn.execute(
            sa.text(f"SELECT {_COLUMNS} FROM {_FROM} ORDER BY m.name"))]


def create_model(conn: Connection, name: str, set_id: int, classes: SetClasses,
                 backbone: str, config: dict[str, Any], run_id: int) -> int:
    return int(conn.execute(sa.text(
        "INSERT INTO models (name, set_id, set_name, class_fingerprint, classes, arch, "
        "params, status, run_id) VALUES (:name, :set_id, :set_name, :fp, "
        "CAST(:classes AS jsonb), :arch, CAST(:params AS jsonb), 'training', :run) "
        "RETURNING id"),
        {"name": name, "set_id": set_id, "set_name": classes.set_name,
         "fp": classes.fingerprint, "classes": json.dumps(classes.to_dict()),
         "arch": backbone, "params": json.dumps(config), "run": run_id}).scalar_one())


def create_align_model(conn: Connection, name: str, dataset_id: int, concepts: list[str],
                       backbone: str, config: dict[str, Any], run_id: int) -> int:
    """The ``models`` row of an alignment model (family ``align``: no set, no classes)."""
    return int(conn.execute(sa.text(
        "INSERT INTO models (name, family, dataset_id, concepts, arch, params, status, run_id) "
        "VALUES (:name, 'align', :ds, CAST(:concepts AS jsonb), :arch, CAST(:params AS jsonb), "
        "'training', :run) RETURNING id"),
        {"name": name, "ds": dataset_id, "concepts": json.dumps(concepts), "arch": backbone,
         "params": json.dumps(config), "run": run_id}).scalar_one())


def update_model(conn: Connection, model_id: int | None, **values: Any) -> None:
    """Set columns of a model row (``metrics`` as a dict); bumps ``updated_at``.

    ``model_id`` None (a rank other than 0, which writes nothing) does nothing."""
    if model_id is None:
        return
    sets = []
    params: dict[str, Any] = {"id": model_id}
    for key, value in values.items():
        if key == "metrics":
            sets.append("metrics = CAST(:metrics AS jsonb)")
            params["metrics"] = json.dumps(value)
        else:
            sets.append(f"{key} = :{key}")
            params[key] = value
    conn.execute(sa.text(f"UPDATE models SET {', '.join(sets)}, updated_at = now() "
                         "WHERE id = :id"), params)


def write_metrics(conn: Connection, model_id: int | None, step: int, epoch: int,
                  images_seen: int, split: str, metrics: dict[str, float]) -> None:
    """One row per metric (finite values only; a NaN is reported, not stored)."""
    if model_id is None:
        return
    rows = [{"m": model_id, "s": step, "sp": split, "k": key, "e": epoch, "n": images_seen,
             "v": float(value)} for key, value in metrics.items() if math.isfinite(value)]
    if rows:
        conn.execute(sa.text(
            "INSERT INTO training_metrics (model_id, step, split, metric, epoch, images_seen, "
            "value) VALUES (:m, :s, :sp, :k, :e, :n, :v) ON CONFLICT (model_id, step, split, "
            "metric) DO UPDATE SET value = EXCLUDED.value, epoch = EXCLUDED.epoch, "
            "images_seen = EXCLUDED.images_seen, recorded_at = now()"), rows)
