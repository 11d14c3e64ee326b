"""What one ingest did, as a value the CLI prints and the ``runs`` table stores."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class IngestSummary:
    """Counts of one ingest of one file.

    ``rows_read`` = ``loaded`` + ``already_present`` + ``rejected``; ``updated`` counts
    already-present rows whose path, mask_path or author changed. ``reasons`` counts the
    rejected rows by kind (``latitude_range``, ``duplicate_id``, ...). ``geocoded`` is the
    number of images that received an EMP-16 address vector, ``locations_added`` the
    number of new rows in ``locations``, ``locations_described`` the number of rows
    written from a GeoFeather location table (``--locations``).
    """

    dataset: str
    dataset_id: int
    source: str
    format: str
    split: str | None
    rows_read: int
    loaded: int
    already_present: int
    updated: int
    rejected: int
    reasons: dict[str, int] = field(default_factory=dict)
    geocoded: int = 0
    locations_added: int = 0
    locations_described: int = 0
    swapped_latlon: bool = False
    run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
