"""Build a named multi-partitioning (semantic or S2) inside PostgreSQL, atomically.

``build_partitioning`` is what ``geotool build`` calls. One build = one transaction:
the set of the same name is deleted (cascading to its partitionings, cells, labels,
ancestors and hierarchy) and rebuilt, so readers see either the old or the new set.
The run is recorded in ``runs`` (stage ``build``) and the parameters in
``partitioning_sets.params``. Partitionings are ordered fine → coarse: ascending τ for
semantic sets, ascending ``img_max`` for S2 sets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geotool.db import sqlfiles
from geotool.db.runs import finish_run, record_stop, start_run

SCHEMES = ("semantic", "s2", "countries")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,54}$")
Report = Callable[[str], None]


class PartitionError(ValueError):
    """A build that cannot run with the given input (message says what to change)."""


@dataclass(frozen=True)
class BuildParams:
    """Everything a build depends on (stored in ``partitioning_sets.params``).

    ``min_images`` is the paper's initial pruning ("delete all locations with less than
    50 images"): a location needs count(l) >= max(τ, min_images) to be a class.
    """

    name: str
    scheme: str = "semantic"
    dataset: str | None = None
    split: str = "train"
    taus: tuple[int, ...] = (50, 75, 100)
    areas_only: bool = False
    min_images: int = 1
    img_min: int = 50
    img_maxes: tuple[int, ...] = (5000, 2000, 1000)
    s2_start_level: int = 2

    def validate(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise PartitionError(
                f"partitioning name {self.name!r} must be lower-case letters, digits and "
                "underscores, start with a letter and be at most 55 characters "
                "(it names the view labels_<name>), e.g. semp_50_75_100"
            )
        if self.scheme not in SCHEMES:
            raise PartitionError(f"unknown scheme {self.scheme!r}; choose one of {SCHEMES}")
        if self.split not in ("train", "val", "test"):
            raise PartitionError(f"split must be train, val or test (got {self.split!r})")
        values = self.img_maxes if self.scheme == "s2" else self.taus
        what = "--img-max" if self.scheme == "s2" else "--tau"
        if not values:
            raise PartitionError(f"give at least one {what} value")
        if len(set(values)) != len(values) or min(values) < 1:
            raise PartitionError(f"{what} values must be distinct positive integers: {values}")
        if self.scheme == "s2" and self.img_min > min(self.img_maxes):
            raise PartitionError(
                f"--img-min {self.img_min} exceeds --img-max {min(self.img_maxes)}"
            )
        if self.min_images < 1:
            raise PartitionError(f"--min-images must be >= 1 (got {self.min_images})")


@dataclass
class LevelSummary:
    level: int
    name: str
    tau: int | None
    n_classes: int
    n_labelled: int


@dataclass
class BuildSummary:
    set_id: int
    name: str
    scheme: str
    dataset: str
    n_train_images: int
    levels: list[LevelSummary] = field(default_factory=list)
    label_view: str = ""


def resolve_dataset(conn: Connection, dataset: str | None) -> tuple[int, str]:
    """The dataset's id and name; without a name, the only dataset there is."""
    rows = conn.execute(sa.text("SELECT id, name FROM datasets ORDER BY name")).all()
    if dataset is None:
        if len(rows) == 1:
            return int(rows[0][0]), str(rows[0][1])
        names = ", ".join(r[1] for r in rows) or "none"
        raise PartitionError(f"say which dataset to partition with --dataset (known: {names})")
    for row in rows:
        if row[1] == dataset:
            return int(row[0]), str(row[1])
    names = ", ".join(r[1] for r in rows) or "none; ingest one first"
    raise PartitionError(f"no dataset named {dataset!r} (known: {names})")


def build_partitioning(engine: Engine, params: BuildParams,
                       report: Report | None = None) -> BuildSummary:
    """Build (or atomically replace) the multi-partitioning ``params.name``."""
    params.validate()
    say = report or (lambda _msg: None)
    with engine.begin() as conn:
        dataset_id, dataset_name = resolve_dataset(conn, params.dataset)
        run_id = start_run(conn, "build", asdict(params), dataset_id)
    try:
        with engine.begin() as conn:
            summary = _build(conn, params, dataset_id, dataset_name, say)
    except BaseException as exc:  # Ctrl-C too: the run is marked interrupted
        record_stop(engine, run_id, exc)
        raise
    with engine.begin() as conn:
        finish_run(conn, run_id, "done", asdict(summary))
    return summary


def _build(conn: Connection, params: BuildParams, dataset_id: int, dataset_name: str,
           say: Report) -> BuildSummary:
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('geotool_build'))"))
    # This transaction only: sorts and hash tables over millions of rows stay in memory,
    # and no JIT compilation (the row estimates of the temporary tables are rough, and
    # JIT then spent up to a second compiling statements that run for one).
    conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
    conn.execute(sa.text("SET LOCAL jit = off"))
    old = conn.execute(sa.text("SELECT id FROM partitioning_sets WHERE name = :n"),
                       {"n": params.name}).scalar()
    if old is not None:
        say(f"replacing partitioning set {params.name}")
        view = conn.dialect.identifier_preparer.quote(f"labels_{params.name}")
        conn.execute(sa.text(f"DROP VIEW IF EXISTS {view}"))
        conn.execute(sa.text("DELETE FROM partitioning_sets WHERE id = :id"), {"id": old})
    n_train = int(conn.execute(
        sa.text("SELECT count(*) FROM images WHERE dataset_id = :d AND split = :s"),
        {"d": dataset_id, "s": params.split},
    ).scalar_one())
    if n_train == 0:
        raise PartitionError(
            f"dataset {dataset_name!r} has no {params.split} images to build from"
        )
    set_id = int(conn.execute(
        sa.text("INSERT INTO partitioning_sets (name, scheme, dataset_id, params) "
                "VALUES (:n, :s, :d, CAST(:p AS jsonb)) RETURNING id"),
        {"n": params.name, "s": params.scheme, "d": dataset_id,
         "p": _json(asdict(params))},
    ).scalar_one())
    summary = BuildSummary(set_id, params.name, params.scheme, dataset_name, n_train)
    if params.scheme == "semantic":
        from geotool.partition.semantic import build_semantic

        build_semantic(conn, set_id, dataset_id, params, say)
    elif params.scheme == "countries":
        from geotool.partition.countries import build_countries

        build_countries(conn, set_id, dataset_id, params, say)
    else:
        from geotool.partition.s2build import build_s2

        build_s2(conn, set_id, dataset_id, params, say)
        say("ancestors across levels")
        sqlfiles.run(conn, "partition_ancestors", set_id=set_id, split=params.split)
    summary.label_view = str(conn.execute(
        sa.text("SELECT geotool_create_label_view(:id)"), {"id": set_id}).scalar_one())
    say("refreshing QGIS views")
    sqlfiles.run(conn, "partition_refresh_views")
    levels = conn.execute(sa.text(
        "SELECT level, name, tau, n_classes FROM partitionings WHERE set_id = :id "
        "ORDER BY level"), {"id": set_id}).all()
    # labelled images per level, all levels in one pass over the set's label rows
    counts = ", ".join(f"count(cell_ids[{int(row[0]) + 1}])" for row in levels)
    labelled = conn.execute(sa.text(
        f"SELECT {counts} FROM image_classes WHERE set_id = :id"), {"id": set_id}
    ).one() if levels else ()
    for row, n_labelled in zip(levels, labelled, strict=True):
        summary.levels.append(LevelSummary(int(row[0]), str(row[1]), row[2],
                                           int(row[3] or 0), int(n_labelled)))
    return summary


def add_partitioning(conn: Connection, set_id: int, level: int, name: str, tau: int | None,
                     params: dict[str, Any]) -> int:
    """Insert one partitioning of a set; returns its id."""
    return int(conn.execute(
        sa.text("INSERT INTO partitionings (set_id, level, name, tau, params) "
                "VALUES (:s, :l, :n, :t, CAST(:p AS jsonb)) RETURNING id"),
        {"s": set_id, "l": level, "n": name, "t": tau, "p": _json(params)},
    ).scalar_one())


def _json(value: dict[str, Any]) -> str:
    import json

    return json.dumps(value, default=str, sort_keys=True)
