"""Build a named multi-partitioning (semantic or S2) inside PostgreSQL, atomically.

``build_partitioning`` is what ``geotool build`` calls. One build = one transaction:
the set of the same name is deleted (cascading to its partitionings, cells, labels,
ancestors and hierarchy) and rebuilt, so readers see either the old or the new set.
The run is recorded in ``runs`` (stage ``build``) and the parameters in
``partitioning_sets.params``. Partitionings are ordered fine → coarse: ascending τ for
semantic sets, ascending ``img_max`` for S2 sets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geotool.db import sqlfiles
from geotool.db.runs import recorded_run
from geotool.partition.countries import build_countries
from geotool.partition.params import (
    NAME_PATTERN,
    SCHEMES,
    BuildParams,
    PartitionError,
    add_partitioning,
    to_json,
)
from geotool.partition.s2build import build_s2
from geotool.partition.semantic import build_semantic
from geotool.progress import NO_PROGRESS, Progress

__all__ = ["NAME_PATTERN", "SCHEMES", "BuildParams", "BuildSummary", "LevelSummary",
           "PartitionError", "add_partitioning", "build_partitioning", "resolve_dataset"]

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


def build_partitioning(engine: Engine, params: BuildParams, *,
                       progress: Progress = NO_PROGRESS) -> BuildSummary:
    """Build (or atomically replace) the multi-partitioning ``params.name``.

    Each step is a ``progress`` phase (no counts: every step is one SQL statement). The
    run is recorded with :func:`geotool.db.runs.recorded_run` (Ctrl-C: interrupted).
    """
    params.validate()
    with engine.begin() as conn:
        dataset_id, dataset_name = resolve_dataset(conn, params.dataset)
    with recorded_run(engine, "build", asdict(params), dataset_id) as run:
        with engine.begin() as conn:
            summary = _build(conn, params, dataset_id, dataset_name, progress)
        run.summary.update(asdict(summary))
    return summary


def _build(conn: Connection, params: BuildParams, dataset_id: int, dataset_name: str,
           progress: Progress) -> BuildSummary:
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('geotool_build'))"))
    # This transaction only: sorts and hash tables over millions of rows stay in memory,
    # and no JIT compilation (the row estimates of the temporary tables are rough, and
    # JIT then spent up to a second compiling statements that run for one).
    conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
    conn.execute(sa.text("SET LOCAL jit = off"))
    old = conn.execute(sa.text("SELECT id FROM partitioning_sets WHERE name = :n"),
                       {"n": params.name}).scalar()
    if old is not None:
        progress.phase(f"replacing partitioning set {params.name}")
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
    added = sqlfiles.run(conn, "partition/add_set", n=params.name, s=params.scheme,
                         d=dataset_id, p=to_json(asdict(params)))
    assert added is not None
    set_id = int(added.scalar_one())
    summary = BuildSummary(set_id, params.name, params.scheme, dataset_name, n_train)
    if params.scheme == "semantic":
        build_semantic(conn, set_id, dataset_id, params, progress)
    elif params.scheme == "countries":
        build_countries(conn, set_id, dataset_id, params, progress)
    else:
        build_s2(conn, set_id, dataset_id, params, progress)
        progress.phase("ancestors across levels")
        sqlfiles.run(conn, "partition/ancestor_votes", set_id=set_id, split=params.split)
        sqlfiles.run(conn, "partition/ancestors", set_id=set_id)
    summary.label_view = str(conn.execute(
        sa.text("SELECT geotool_create_label_view(:id)"), {"id": set_id}).scalar_one())
    progress.phase("refreshing QGIS views")
    sqlfiles.run(conn, "partition/refresh_views")
    levels = sqlfiles.run(conn, "partition/level_summary", id=set_id)
    assert levels is not None
    for row in levels:
        summary.levels.append(LevelSummary(int(row.level), str(row.name), row.tau,
                                           int(row.n_classes or 0), int(row.n_labelled)))
    return summary
