"""``geotool export``: write database content to files for people without database access."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out
from geotool.db.engine import get_engine
from geotool.export.cells import export_cells

app = typer.Typer(help="Export cells and results to GeoPackage or GeoJSON.\n\n"
                  "Example: geotool export cells semp_50_75_100 --format gpkg --out cells.gpkg",
                  no_args_is_help=True)


@app.command("cells")
@friendly_errors
def cells(
    name: Annotated[str, typer.Argument(help="Name of the partitioning set.")],
    out_path: Annotated[Path, typer.Option("--out", help="File to write.")],
    fmt: Annotated[str | None, typer.Option(
        "--format", help="gpkg or geojson (default: from the file suffix).")] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Write every cell of a set (all partitionings) with its label, counts and polygon.

    Example: geotool export cells semp_50_75_100 --format gpkg --out cells.gpkg
    """
    n = export_cells(get_engine(database_url), name, out_path, fmt)
    out.print(f"wrote {n:,} cells to {out_path}")
