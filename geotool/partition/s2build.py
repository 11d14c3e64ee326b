"""Build an S2 multi-partitioning: adaptive cells per ``img_max``, stored like SemP cells.

The images' S2 leaf ids are computed here while streaming the coordinates from the
server (17 bytes per image stay in memory: id, leaf id, split flag, plus 8 bytes per
image and partitioning for its cell id); cells, labels (one ``image_classes`` row per
image) and statistics are written back with COPY and ``sql/partition/cell_stats.sql``.
Images of other splits are labelled with the training cells that contain them.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geotool.db import sqlfiles
from geotool.db.copy import copy_rows
from geotool.partition.params import BuildParams, PartitionError, add_partitioning
from geotool.partition.s2cells import adaptive_cells, assign, cell_polygon_wkt, leaf_id
from geotool.progress import Progress

BATCH = 50_000


def _stream(conn: Connection, dataset_id: int, split: str
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    result = conn.execute(
        sa.text("SELECT id, lat, lon, split = :split FROM images WHERE dataset_id = :d "
                "ORDER BY id"), {"d": dataset_id, "split": split},
        execution_options={"stream_results": True, "yield_per": BATCH})
    ids: list[np.ndarray] = []
    leaves: list[np.ndarray] = []
    train: list[np.ndarray] = []
    for part in result.partitions():
        ids.append(np.fromiter((r[0] for r in part), dtype=np.int64, count=len(part)))
        leaves.append(np.fromiter((leaf_id(r[1], r[2]) for r in part), dtype=np.uint64,
                                  count=len(part)))
        train.append(np.fromiter((bool(r[3]) for r in part), dtype=bool, count=len(part)))
    if not ids:
        return (np.zeros(0, np.int64), np.zeros(0, np.uint64), np.zeros(0, bool))
    return np.concatenate(ids), np.concatenate(leaves), np.concatenate(train)


def build_s2(conn: Connection, set_id: int, dataset_id: int, params: BuildParams,
             progress: Progress) -> None:
    """One partitioning per ``img_max`` (ascending = fine → coarse)."""
    progress.phase("S2 leaf cells of the images")
    ids, leaves, train = _stream(conn, dataset_id, params.split)
    train_sorted = np.sort(leaves[train])
    levels = sorted(params.img_maxes)
    labels = np.full((len(ids), len(levels)), -1, dtype=np.int64)  # cell id per level
    pids: list[int] = []
    for level, img_max in enumerate(levels):
        progress.phase(f"S2 cells img_min={params.img_min} img_max={img_max}")
        cells = adaptive_cells(train_sorted, params.img_min, img_max, params.s2_start_level)
        if not cells:
            raise PartitionError(
                f"no S2 cell holds {params.img_min} training images; lower --img-min"
            )
        pid = add_partitioning(conn, set_id, level, f"s2_{params.img_min}_{img_max}", None, {
            "img_min": params.img_min, "img_max": img_max,
            "start_level": params.s2_start_level})
        pids.append(pid)
        conn.execute(
            sa.text("INSERT INTO cells (partitioning_id, class_index, s2_token, n_images, "
                    "lat, lon, geom, geom_source) VALUES (:p, :k, :t, 0, 0, 0, "
                    "ST_GeomFromText(:g, 4326), 's2')"),
            [{"p": pid, "k": k, "t": c.token, "g": cell_polygon_wkt(c.cell_id)}
             for k, c in enumerate(cells)],
        )
        cell_ids = np.array(conn.execute(
            sa.text("SELECT id FROM cells WHERE partitioning_id = :p ORDER BY class_index"),
            {"p": pid}).scalars().all(), dtype=np.int64)
        which = assign(leaves, cells)
        hit = which >= 0
        labels[hit, level] = cell_ids[which[hit]]
        conn.execute(sa.text("UPDATE partitionings SET n_classes = :n WHERE id = :p"),
                     {"n": len(cells), "p": pid})
    progress.phase("S2 labels of all partitionings")
    copy_rows(conn, "image_classes", ("set_id", "image_id", "cell_ids"),
              _label_rows(set_id, ids, labels))
    for level, pid in enumerate(pids):
        sqlfiles.run(conn, "partition/cell_stats", set_id=set_id, level=level,
                     partitioning_id=pid, split=params.split)
        conn.execute(sa.text("UPDATE cells SET label = 'S2 ' || s2_token "
                             "WHERE partitioning_id = :p"), {"p": pid})


def _label_rows(set_id: int, ids: np.ndarray, labels: np.ndarray
                ) -> Iterator[tuple[int, int, list[int | None]]]:
    """One ``image_classes`` row per image with a cell at some level (-1 = none)."""
    for i in np.nonzero((labels >= 0).any(axis=1))[0]:
        yield set_id, int(ids[i]), [int(c) if c >= 0 else None for c in labels[i]]
