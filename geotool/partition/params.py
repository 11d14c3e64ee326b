"""What a partitioning build is asked for, and the pieces every builder shares.

``geotool.partition.build`` runs a build and calls the scheme builders
(``semantic``, ``s2build``) and ``reference_import``; all of them need the parameters,
the error type and ``add_partitioning``, which live here so that no builder imports the
module that calls it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geotool.errors import GeotoolError

SCHEMES = ("semantic", "s2", "countries")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,54}$")


class PartitionError(GeotoolError, ValueError):
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


def add_partitioning(conn: Connection, set_id: int, level: int, name: str, tau: int | None,
                     params: dict[str, Any]) -> int:
    """Insert one partitioning of a set; returns its id."""
    return int(conn.execute(
        sa.text("INSERT INTO partitionings (set_id, level, name, tau, params) "
                "VALUES (:s, :l, :n, :t, CAST(:p AS jsonb)) RETURNING id"),
        {"s": set_id, "l": level, "n": name, "t": tau, "p": to_json(params)},
    ).scalar_one())


def to_json(value: dict[str, Any]) -> str:
    """``value`` as the JSON stored in the ``params`` columns (stable key order)."""
    return json.dumps(value, default=str, sort_keys=True)
