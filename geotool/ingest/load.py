"""Streaming a dataset file into the ``images`` table in one transaction.

How a file goes in (``ingest_file(engine, IngestParams(path, dataset), progress=…)``):

1. The reader streams rows; :class:`~geotool.ingest.validate.RowChecker` checks each one
   and psycopg COPY writes them, good and bad, into a TEMP staging table. Nothing of the
   file is held in memory beyond one COPY buffer.
2. ``sql/ingest/check.sql`` marks duplicate ids and ids already stored with another
   coordinate, in SQL (bounded memory, whatever the file size).
3. Invalid rows and no ``skip_invalid``: the first ones are reported with line numbers
   and reasons and the transaction rolls back — nothing at all is written, not even the
   dataset row. Otherwise the valid rows are inserted (``sql/ingest/load.sql``), the
   refused ones recorded in ``rejected_rows`` (``sql/ingest/rejected.sql``), EMP-16
   address vectors written (``sql/ingest/addresses.sql``) and a ``runs`` row records the
   parameters and counts.

Re-running the same file gives exactly the same rows: existing images are matched by
(dataset, external id) and kept (path/mask_path/author follow the file), and
``rejected_rows`` for a file mirror its latest ingest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geotool.db import sqlfiles
from geotool.db.copy import psycopg_connection
from geotool.db.runs import RunRecord, recorded_run
from geotool.db.tables import SPLITS
from geotool.ingest.errors import IngestError, InvalidRowsError, RowProblem, SwappedColumnsError
from geotool.ingest.locations import load_location_table
from geotool.ingest.readers import Reader, open_reader
from geotool.ingest.summary import IngestSummary
from geotool.ingest.validate import STAGING_COLUMNS, RowChecker
from geotool.progress import NO_PROGRESS, Progress

#: Phases reported to ``progress``: "reading" (rows, with ``bytes`` read so far), then the
#: SQL steps "checking", "loading", "addresses" (EMP-16) and "locations" (``--locations``).
PROGRESS_EVERY = 10_000
STAGING_TYPES = ("int8", "text", "float8", "float8", "text", "text", "text", "text",
                 "text[]", "text", "text", "text")


@dataclass(frozen=True)
class IngestParams:
    """What ``ingest_file`` loads: the images of ``path`` into ``dataset`` (created on
    first use).

    ``split`` sets every row's split; without it the file needs a ``split`` column.
    ``fmt`` is auto, csv, geoestimation, semp, emp16 or latlon. ``skip_invalid`` loads the valid
    rows and records the others; ``swap_latlon`` exchanges the coordinate columns.
    ``locations`` names an EMP-16 GeoFeather location table whose attributes fill
    ``locations`` in the same transaction (see :mod:`geotool.ingest.locations`).
    ``max_listed`` invalid rows are listed in the error.
    """

    path: Path | str
    dataset: str
    split: str | None = None
    fmt: str = "auto"
    skip_invalid: bool = False
    swap_latlon: bool = False
    locations: Path | str | None = None
    max_listed: int = 20

    def validate(self) -> None:
        if not self.dataset or not self.dataset.strip():
            raise IngestError("the dataset name is empty; give one with --dataset NAME")
        if self.split is not None and self.split not in SPLITS:
            raise IngestError(f"split {self.split!r} is not one of {', '.join(SPLITS)}")
        if self.locations is not None and not Path(self.locations).is_file():
            raise IngestError(f"location table {self.locations} does not exist")
        if self.max_listed < 1:
            raise IngestError(f"max_listed {self.max_listed}: list at least one row")


def ingest_file(engine: Engine, params: IngestParams, *,
                progress: Progress = NO_PROGRESS) -> IngestSummary:
    """Load the images of ``params.path`` into ``params.dataset`` (created on first use).

    Raises :class:`InvalidRowsError` (listing the first ``max_listed`` rows) when rows are
    invalid and ``skip_invalid`` is false, :class:`SwappedColumnsError` when latitude and
    longitude look swapped, :class:`IngestError` for unreadable files; in every such case
    the database is left untouched (the run is recorded as ``failed``). ``progress`` gets
    the phase "reading" (advanced by rows; ``bytes`` read so far as a field), then one phase
    per SQL step that follows.
    """
    params.validate()
    path, dataset, split, locations = params.path, params.dataset, params.split, params.locations
    skip_invalid, swap_latlon = params.skip_invalid, params.swap_latlon
    source = str(Path(path).resolve())
    with open_reader(path, params.fmt) as reader:
        if split is None and not reader.has_split:
            raise IngestError(f"{path} has no split column; give --split "
                              f"({'|'.join(SPLITS)})")
        recorded = {"path": source, "format": reader.format_name, "split": split,
                    "skip_invalid": skip_invalid, "swap_latlon": swap_latlon,
                    "locations": str(Path(locations).resolve()) if locations else None}
        with recorded_run(engine, "ingest", recorded) as run, engine.begin() as conn:
            summary = _ingest(conn, reader, dataset.strip(), split, source, run,
                              skip_invalid, swap_latlon, progress, params.max_listed)
            if locations is not None:
                progress.phase("locations")
                described = load_location_table(conn, locations)
                summary = replace(summary, locations_described=described)
            run.summary.update(summary.as_dict())
            return summary


def _ingest(conn: Connection, reader: Reader, dataset: str, split: str | None, source: str,
            run: RunRecord, skip_invalid: bool, swap_latlon: bool, progress: Progress,
            max_listed: int) -> IngestSummary:
    result = sqlfiles.run(conn, "ingest/dataset", dataset_name=dataset)
    assert result is not None
    dataset_id = int(result.scalar_one())
    # the run row was committed before the dataset existed; it is linked to the dataset in
    # this transaction, so a failed ingest leaves a failed run without a dataset
    conn.execute(sa.text("UPDATE runs SET dataset_id = :d WHERE id = :r"),
                 {"d": dataset_id, "r": run.id})
    run_id = run.id

    sqlfiles.run(conn, "ingest/stage")
    checker = RowChecker(split, swap_latlon)
    rows_read = _stage(conn, reader, checker, progress)
    if rows_read == 0:  # rolls back the dataset row made above: no empty dataset
        raise IngestError(f"{source} has no data rows (only a header?): nothing to ingest, "
                          f"and dataset {dataset!r} was not created; check the file")
    progress.phase("checking")
    sqlfiles.run(conn, "ingest/check", dataset_id=dataset_id)

    reasons = {str(k): int(n) for k, n in conn.execute(sa.text(
        "SELECT kind, count(*) FROM ingest_staging WHERE kind IS NOT NULL "
        "GROUP BY kind ORDER BY kind"))}
    rejected = sum(reasons.values())
    hint = checker.swap.hint(swap_latlon) if checker.swap.suspected else None
    if hint and skip_invalid:
        raise SwappedColumnsError(f"{source}: {hint} Nothing was written.")
    if rejected and not skip_invalid:
        listed = [RowProblem(int(r.line_no), r.external_id, str(r.kind), str(r.reason))
                  for r in conn.execute(sa.text(
                      "SELECT line_no, external_id, kind, reason FROM ingest_staging "
                      "WHERE kind IS NOT NULL ORDER BY line_no LIMIT :n"), {"n": max_listed})]
        raise InvalidRowsError(source, listed, rejected, reasons, hint)

    progress.phase("loading")
    updated, loaded = _rowcounts(conn, "ingest/load", dataset_id=dataset_id)
    sqlfiles.run(conn, "ingest/rejected", dataset_id=dataset_id, source=source)
    geocoded = locations_added = 0
    if reader.format_name == "emp16":
        progress.phase("addresses")
        counts = _rowcounts(conn, "ingest/addresses", dataset_id=dataset_id)
        locations_added, geocoded = counts[0], counts[-1]

    summary = IngestSummary(
        dataset=dataset, dataset_id=dataset_id, source=source, format=reader.format_name,
        split=split, rows_read=rows_read, loaded=loaded,
        already_present=rows_read - rejected - loaded, updated=updated, rejected=rejected,
        reasons=reasons, geocoded=geocoded, locations_added=locations_added,
        swapped_latlon=swap_latlon, run_id=run_id)
    return summary


def _stage(conn: Connection, reader: Reader, checker: RowChecker,
           progress: Progress) -> int:
    """COPY every row of the file into the staging table; returns the number of rows."""
    pg = psycopg_connection(conn)
    n = 0
    columns = ", ".join(STAGING_COLUMNS)
    with pg.cursor() as cur, cur.copy(f"COPY ingest_staging ({columns}) FROM STDIN") as cp:
        cp.set_types(list(STAGING_TYPES))
        check, write = checker.check, cp.write_row
        for row in _rows(reader, progress):
            write(check(row))
            n += 1
    progress.update(bytes=reader.total_bytes)
    progress.advance(n % PROGRESS_EVERY)
    return n


def _rows(reader: Reader, progress: Progress) -> Iterator[Any]:
    progress.phase("reading")
    for n, row in enumerate(reader.rows(), 1):
        yield row
        if n % PROGRESS_EVERY == 0:
            progress.update(bytes=reader.bytes_read())
            progress.advance(PROGRESS_EVERY)


def _rowcounts(conn: Connection, name: str, **params: Any) -> list[int]:
    """Run ``sql/<name>.sql`` statement by statement; the row count of each DML statement."""
    counts: list[int] = []
    for stmt in sqlfiles.load(name):
        wanted = {k: v for k, v in params.items() if f":{k}" in stmt}
        result = conn.execute(sa.text(stmt), wanted)
        if result.rowcount is not None and result.rowcount >= 0 and not result.returns_rows:
            counts.append(int(result.rowcount))
    return counts
