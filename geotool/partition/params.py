"""What a partitioning build is asked for, and the pieces every builder shares.

``geotool.partition.build`` runs a build and calls the scheme builders
(``semantic``, ``s2build``) and ``reference_import``; all of them need the parameters,
the error type and ``add_partitioning``, which live here so that no builder imports the
module that calls it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geotool.errors import InvalidValueError

SCHEMES = ("semantic", "s2", "countries")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,54}$")


class PartitionError(InvalidValueError):
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

    @classmethod
    def parse_numbers(cls, values: Sequence[str], flag: str) -> tuple[int, ...]:
        """Whole numbers of a list flag given as separate words and/or comma-separated
        (``--tau 50 75 100``, ``--tau 50,75,100``)."""
        numbers: list[int] = []
        for raw in values:
            for piece in raw.split(","):
                if not piece.strip():
                    continue
                try:
                    numbers.append(int(piece))
                except ValueError:
                    raise PartitionError(f"{flag} takes whole numbers, got {piece!r}") from None
        return tuple(numbers)

    @classmethod
    def from_flags(cls, name: str, scheme: str = "semantic", *,
                   taus: Sequence[str] = (), img_maxes: Sequence[str] = (),
                   extra: Sequence[str] = (), **rest: Any) -> BuildParams:
        """The parameters of ``geotool build``'s flags: ``taus``/``img_maxes`` are the words
        given after ``--tau``/``--img-max`` (``extra`` the ones after the first, which the
        shell passes on as extra arguments); the scheme's defaults fill an empty list.
        ``rest`` are the other fields; those of the other schemes are dropped."""
        if scheme not in SCHEMES:
            raise PartitionError(f"--scheme must be semantic, s2 or countries, not {scheme!r}")
        wrong = ("--tau", taus) if scheme == "s2" else ("--img-max", img_maxes)
        if wrong[1]:
            raise PartitionError(f"{wrong[0]} does not apply to --scheme {scheme}")
        if extra and not (img_maxes if scheme == "s2" else taus):
            raise PartitionError(
                f"unexpected arguments: {' '.join(extra)} (list values follow "
                f"{'--img-max' if scheme == 's2' else '--tau'}, e.g. --tau 50 75 100)")
        if scheme == "s2":
            maxes = cls.parse_numbers([*img_maxes, *extra], "--img-max") or (5000, 2000, 1000)
            kept = {k: v for k, v in rest.items() if k in {"dataset", "split", "img_min",
                                                             "s2_start_level"}}
            return cls(name=name, scheme="s2", img_maxes=maxes, **kept)
        taus_ = cls.parse_numbers([*taus, *extra], "--tau") or (
            (1000,) if scheme == "countries" else (50, 75, 100))
        kept = {k: v for k, v in rest.items() if k in {"dataset", "split", "areas_only",
                                                         "min_images"}}
        return cls(name=name, scheme=scheme, taus=taus_, **kept)


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
