"""The country partitioning for pre-training (the paper's Appendix C).

One level: an image's class is the root of its path in the build's hierarchy (its
country), except in the countries listed in :data:`SPLIT_INTO_STATES` (the USA), where
it is the next location down (the state). Classes need at least τ training images (the
paper: 1,000). Built in SQL (``sql/partition/countries.sql``) from the same hierarchy a
semantic build derives, with the same cell statistics and labels, so
``geotool train --partitions countries_1000 …`` and then ``--init-from`` that model
work like any other set.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from geotool.db import sqlfiles
from geotool.partition.params import BuildParams, PartitionError, add_partitioning
from geotool.partition.semantic import build_hierarchy
from geotool.progress import Progress

#: Countries (ISO codes, lower case) whose images are classed by state.
SPLIT_INTO_STATES = ("us",)


def build_countries(conn: Connection, set_id: int, dataset_id: int, params: BuildParams,
                    progress: Progress,
                    split_countries: tuple[str, ...] = SPLIT_INTO_STATES) -> None:
    """Hierarchy of the set, then the one country level with at least τ images a class."""
    if len(params.taus) != 1:
        raise PartitionError(f"--scheme countries takes one --tau (the minimum of images "
                             f"per class, e.g. 1000), not {params.taus}")
    build_hierarchy(conn, set_id, dataset_id, params, progress)
    tau = params.taus[0]
    effective = max(tau, params.min_images)
    progress.phase(f"countries with at least {effective} images")
    pid = add_partitioning(conn, set_id, 0, f"countries_{tau}", tau, {
        "tau": tau, "tau_effective": effective, "split_into_states": list(split_countries)})
    sqlfiles.run(conn, "partition/countries", set_id=set_id,
                 split_countries=[c.lower() for c in split_countries])
    sqlfiles.run(conn, "partition/class_cells", partitioning_id=pid, level=0,
                 min_images=effective)
    progress.phase("labels")
    sqlfiles.run(conn, "partition/semantic_labels", set_id=set_id, n_levels=1)
