"""``geotool ingest``: load a dataset file (CSV, GeoEstimation, SemP, EMP-16) into images."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out
from geotool.cli.progress import RichProgress
from geotool.db.engine import get_engine
from geotool.ingest.load import IngestParams, ingest_file
from geotool.ingest.summary import IngestSummary


@friendly_errors
def ingest(
    file: Annotated[Path, typer.Argument(help="CSV, CSV.bz2, JSONL or JSONL.bz2 file.")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset name (created on "
                                         "first use).")],
    split: Annotated[str | None, typer.Option(
        "--split", help="train, val or test for every row; default: the file's split column.",
        show_default=False)] = None,
    fmt: Annotated[str, typer.Option(
        "--format", help="auto, csv, geoestimation, semp, emp16 or latlon.")] = "auto",
    skip_invalid: Annotated[bool, typer.Option(
        "--skip-invalid", help="Load the valid rows; record the others in rejected_rows.")
    ] = False,
    swap_latlon: Annotated[bool, typer.Option(
        "--swap-latlon", help="Exchange the latitude and longitude columns (old im2gps3k).")
    ] = False,
    locations: Annotated[Path | None, typer.Option(
        "--locations", help="EMP-16 GeoFeather location table whose attributes fill "
        "the locations table.", show_default=False)] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Load the images of FILE (id, coordinate, optional paths) into a dataset.

    Formats (--format auto tells them apart by file name and header):
    csv            id,lat,lon[,path,mask_path,author,split]
    geoestimation  IMG_ID,AUTHOR,LAT,LON,...
    semp           img_id,latitude,longitude (images in img/ beside the file)
    emp16          JSON lines (.jsonl, .jsonl.bz2) with address vectors h_raw,
                   which also fill locations and image_addresses: no geocoding needed;
                   --locations adds their attributes from EMP-16's GeoFeather table.
    latlon         LAT,LON only (GeoCLIP's coordinates_100K.csv); ids are row numbers

    Every row is checked. Invalid rows make the command fail without writing
    anything, unless --skip-invalid is given (they then go to rejected_rows).
    Running the same file again changes nothing.

    Example: geotool ingest photos/train.csv --dataset demo --split train
    """
    params = IngestParams(path=file, dataset=dataset, split=split, fmt=fmt,
                          skip_invalid=skip_invalid, swap_latlon=swap_latlon,
                          locations=locations)
    params.validate()
    start = time.monotonic()
    with RichProgress(unit=" rows/s", transient=True) as progress:
        summary = ingest_file(get_engine(database_url), params, progress=progress)
    out.print(summary_table(summary, time.monotonic() - start))


def summary_table(summary: IngestSummary, seconds: float) -> Table:
    """The summary the command prints: counts and the reasons of rejected rows."""
    table = Table(title=f"ingest {summary.dataset} ← {Path(summary.source).name} "
                        f"({summary.format})")
    table.add_column("", style="bold")
    table.add_column("rows", justify="right", overflow="fold")
    table.add_row("read", f"{summary.rows_read:,}")
    table.add_row("loaded (new)", f"{summary.loaded:,}")
    table.add_row("already present", f"{summary.already_present:,}")
    if summary.updated:
        table.add_row("  of which paths updated", f"{summary.updated:,}")
    table.add_row("rejected", f"{summary.rejected:,}")
    for kind, count in summary.reasons.items():
        table.add_row(f"  {kind}", f"{count:,}")
    if summary.format == "emp16":
        table.add_row("address vectors written", f"{summary.geocoded:,}")
        table.add_row("new locations", f"{summary.locations_added:,}")
    if summary.locations_described:
        table.add_row("locations from the table", f"{summary.locations_described:,}")
    table.add_row("rows/s", f"{summary.rows_read / max(seconds, 1e-9):,.0f}")
    if summary.rejected:
        table.caption = "rejected rows are in the rejected_rows table"
    return table
