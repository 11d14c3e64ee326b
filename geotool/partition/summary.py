"""What a partitioning set looks like: classes, images per class, hierarchy depth.

Read-only summaries for ``geotool partitions list | show``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geotool.partition.params import PartitionError


@dataclass(frozen=True)
class SetInfo:
    name: str
    scheme: str
    dataset: str | None
    n_partitionings: int
    n_classes: int
    created_at: Any


@dataclass(frozen=True)
class LevelInfo:
    level: int
    name: str
    tau: int | None
    n_classes: int
    n_labelled: int
    images_min: int | None
    images_median: float | None
    images_max: int | None
    depth_min: int | None
    depth_max: int | None
    geom_sources: dict[str, int]
    # fine (level 0) classes without an ancestor at this level: the hierarchical prediction
    # gives them the factor of the level below (docs/method.md §7)
    n_orphans: int = 0


def list_sets(engine: Engine) -> list[SetInfo]:
    """Every partitioning set, by name."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT s.name, s.scheme, d.name, count(p.id), coalesce(sum(p.n_classes), 0), "
            "s.created_at FROM partitioning_sets s LEFT JOIN datasets d ON d.id = s.dataset_id "
            "LEFT JOIN partitionings p ON p.set_id = s.id GROUP BY s.id, d.name "
            "ORDER BY s.name")).all()
    return [SetInfo(r[0], r[1], r[2], int(r[3]), int(r[4]), r[5]) for r in rows]


def show_set(engine: Engine, name: str) -> tuple[dict[str, Any], list[LevelInfo]]:
    """The set's parameters and, per partitioning, its class and image statistics.

    Depth is the class location's depth in the set's hierarchy (0 = a root).
    """
    with engine.connect() as conn:
        head = conn.execute(sa.text(
            "SELECT id, params FROM partitioning_sets WHERE name = :n"), {"n": name}).first()
        if head is None:
            raise PartitionError(
                f"no partitioning set named {name!r}; see `geotool partitions list`"
            )
        rows = conn.execute(sa.text(
            "SELECT p.level, p.name, p.tau, count(c.id), "
            " (SELECT count(*) FROM image_classes ic WHERE ic.set_id = p.set_id"
            "  AND ic.cell_ids[p.level + 1] IS NOT NULL), "
            " min(c.n_images), percentile_cont(0.5) WITHIN GROUP (ORDER BY c.n_images), "
            " max(c.n_images), min(h.depth), max(h.depth) "
            "FROM partitionings p LEFT JOIN cells c ON c.partitioning_id = p.id "
            "LEFT JOIN hierarchy_nodes h ON h.set_id = p.set_id AND h.location_id = c.location_id "
            "WHERE p.set_id = :s GROUP BY p.id ORDER BY p.level"), {"s": head[0]}).all()
        sources = conn.execute(sa.text(
            "SELECT p.level, c.geom_source, count(*) FROM cells c "
            "JOIN partitionings p ON p.id = c.partitioning_id WHERE p.set_id = :s "
            "GROUP BY 1, 2"), {"s": head[0]}).all()
        orphans: dict[int, int] = dict(conn.execute(sa.text(
            "SELECT p.level, count(fc.id) FROM partitionings p "
            "JOIN partitionings pf ON pf.set_id = p.set_id AND pf.level = 0 "
            "JOIN cells fc ON fc.partitioning_id = pf.id "
            "WHERE p.set_id = :s AND p.level > 0 AND NOT EXISTS ("
            "  SELECT 1 FROM cell_ancestors ca JOIN cells ac ON ac.id = ca.ancestor_cell_id "
            "  WHERE ca.cell_id = fc.id AND ca.ancestor_partitioning_id = p.id) "
            "GROUP BY p.level"), {"s": head[0]}).all())
    by_level: dict[int, dict[str, int]] = {}
    for level, source, n in sources:
        by_level.setdefault(int(level), {})[str(source)] = int(n)
    levels = [LevelInfo(int(r[0]), r[1], r[2], int(r[3]), int(r[4]), r[5],
                        None if r[6] is None else float(r[6]), r[7], r[8], r[9],
                        by_level.get(int(r[0]), {}), int(orphans.get(r[0], 0)))
              for r in rows]
    return dict(head[1] or {}), levels
