"""``geotool export``: write database content to files for people without database access."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out
from geotool.db.engine import get_engine
from geotool.export.cells import CellExportParams, export_cells

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
    params = CellExportParams(set_name=name, path=out_path, fmt=fmt)
    params.validate()
    done = export_cells(get_engine(database_url), params)
    out.print(f"wrote {done.cells:,} cells to {out_path}")


@app.command("predictions")
@friendly_errors
def predictions(
    model: Annotated[str, typer.Option("--model", help="Name of the trained model.")],
    out_path: Annotated[Path, typer.Option("--out", help="File to write.")],
    fmt: Annotated[str | None, typer.Option(
        "--format", help="csv (GeoEstimation img_id,p_key,pred_class,pred_lat,pred_lng) or "
        "gpkg (points and error lines for QGIS); default: from the file suffix.")] = None,
    dataset: Annotated[str | None, typer.Option(
        "--dataset", help="Dataset (default: the one the model's set was built from).",
        show_default=False)] = None,
    split: Annotated[str, typer.Option("--split", help="train, val or test.")] = "test",
    database_url: DatabaseUrlOption = None,
) -> None:
    """Write a model's newest predictions of a split as CSV or GeoPackage.

    Example: geotool export predictions --model semp_r50 --format gpkg --out pred.gpkg
    """
    from geotool.export.predictions import PredictionExportParams, export_predictions

    params = PredictionExportParams(model=model, path=out_path, fmt=fmt, dataset=dataset,
                                    split=split)
    params.validate()
    done = export_predictions(get_engine(database_url), params)
    out.print(f"wrote {done.rows:,} predictions (run {done.prediction_run_id}) to {out_path}")
