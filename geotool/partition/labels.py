"""Training labels of a multi-partitioning, streamed from ``geotool_labels(set, split)``.

One row per image of the set's dataset and split, with one class index per partitioning
(fine → coarse; ``None`` = unlabelled). Validation and test images are labelled with the
training partitioning through their own address vectors; images outside every class are
kept (all ``None``) so evaluation sees them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geotool.partition.params import PartitionError


@dataclass(frozen=True)
class LabelRow:
    image_id: int
    external_id: str
    path: str | None
    lat: float
    lon: float
    split: str
    classes: tuple[int | None, ...]

    @property
    def labelled(self) -> bool:
        return any(c is not None for c in self.classes)


def label_rows(engine: Engine, set_name: str, split: str | None = "train", *,
               labelled_only: bool = False, batch: int = 10_000) -> Iterator[LabelRow]:
    """Stream the labels of ``set_name`` (``split=None``: every split), ordered by image id."""
    with engine.connect() as conn:
        if conn.execute(sa.text("SELECT 1 FROM partitioning_sets WHERE name = :n"),
                        {"n": set_name}).first() is None:
            raise PartitionError(
                f"no partitioning set named {set_name!r}; see `geotool partitions list`"
            )
        result = conn.execute(
            sa.text("SELECT image_id, external_id, path, lat, lon, split, classes "
                    "FROM geotool_labels(:n, :s)"), {"n": set_name, "s": split},
            execution_options={"stream_results": True, "yield_per": batch})
        for r in result:
            row = LabelRow(int(r[0]), str(r[1]), r[2], float(r[3]), float(r[4]), str(r[5]),
                           tuple(r[6]))
            if labelled_only and not row.labelled:
                continue
            yield row
