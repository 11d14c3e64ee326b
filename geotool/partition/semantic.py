"""Semantic partitionings (SemP): the hierarchy, then one partitioning per threshold τ.

All work happens in PostgreSQL through ``sql/partition/*.sql``; the client only sends
statements, so its memory does not grow with the number of images.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geotool.db import sqlfiles
from geotool.partition.params import BuildParams, PartitionError, add_partitioning
from geotool.progress import Progress


def build_hierarchy(conn: Connection, set_id: int, dataset_id: int, params: BuildParams,
                    progress: Progress, other_scheme: str = "") -> None:
    """The set's location hierarchy from the address vectors of ``params.split`` (the
    step every hierarchy-based scheme starts with); ``other_scheme`` is appended to the
    error when there are no address vectors."""
    progress.phase("hierarchy: edges, parents, cycles, paths, counts")
    sqlfiles.run(conn, "partition/hierarchy", set_id=set_id, dataset_id=dataset_id,
                 split=params.split)
    n_nodes = conn.execute(sa.text("SELECT count(*) FROM hierarchy_nodes WHERE set_id = :s"),
                           {"s": set_id}).scalar_one()
    if not n_nodes:
        raise PartitionError(
            f"the {params.split} images of this dataset have no address vectors yet: "
            f"run `geotool geocode` first{other_scheme}")


def build_semantic(conn: Connection, set_id: int, dataset_id: int, params: BuildParams,
                   progress: Progress) -> None:
    """Hierarchy of the set; classes, statistics and names per τ (fine first); then the
    labels of all partitionings (one ``image_classes`` row per image) and the ancestors."""
    build_hierarchy(conn, set_id, dataset_id, params, progress,
                    " (or build an S2 set with --scheme s2)")
    taus = sorted(params.taus)
    for level, tau in enumerate(taus):
        effective = max(tau, params.min_images)
        progress.phase(f"partitioning τ={tau}")
        pid = add_partitioning(conn, set_id, level, f"tau_{tau}", tau, {
            "tau": tau, "tau_effective": effective, "areas_only": params.areas_only})
        sqlfiles.run(conn, "partition/semantic", set_id=set_id, tau=effective,
                     areas_only=params.areas_only)
        sqlfiles.run(conn, "partition/class_cells", partitioning_id=pid, level=level,
                     min_images=0)
    progress.phase("labels of all partitionings")
    sqlfiles.run(conn, "partition/semantic_labels", set_id=set_id, n_levels=len(taus))
    progress.phase("ancestors across levels")
    sqlfiles.run(conn, "partition/semantic_ancestor_votes", set_id=set_id)
    sqlfiles.run(conn, "partition/ancestors", set_id=set_id)
