"""``geotool export``: write database content to files for people without database access."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out
from geotool.cli.progress import RichProgress
from geotool.db.engine import get_engine
from geotool.export.cells import CellExportParams, export_cells

app = typer.Typer(help="Export cells (GeoPackage or GeoJSON) and predictions (CSV or "
                  "GeoPackage), or a QGIS project reading the live database.\n\n"
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
        "--format", help="csv (GeoEstimation img_id,p_key,pred_class,pred_lat,pred_lng, "
        "then mode: flat or hier) or gpkg (points and error lines for QGIS); default: from "
        "the file suffix.")] = None,
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


@app.command("qgis")
@friendly_errors
def qgis(
    out_path: Annotated[Path | None, typer.Option(
        "--out", help="Project file to write: .qgz (zipped) or .qgs.",
        show_default=False)] = None,
    partitions: Annotated[list[str] | None, typer.Option(
        "--partitions", help="Partitioning sets to show (repeat, or 'a,b'); default all.",
        show_default=False)] = None,
    models: Annotated[list[str] | None, typer.Option(
        "--model", help="Models whose predictions and concept ci to show (repeat); "
                        "default every model with predictions of --split.",
        show_default=False)] = None,
    split: Annotated[str, typer.Option("--split", help="train, val or test.")] = "test",
    service: Annotated[str, typer.Option(
        "--service", help="PostgreSQL service the project connects through (written for "
                          "the current database when it is 'geotool' and missing; a "
                          "viewer's service from `geotool db viewer create`).")] = "geotool",
    service_file: Annotated[Path | None, typer.Option(
        "--service-file", help="Service file (default: $PGSERVICEFILE, else "
                               "~/.pg_service.conf).", show_default=False)] = None,
    in_database: Annotated[bool, typer.Option(
        "--in-database", help="Also store the project in the database (qgis_projects) and "
                              "default styles in layer_styles.")] = False,
    name: Annotated[str | None, typer.Option(
        "--name", help="Project name (default: the file's name without suffix).",
        show_default=False)] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Write a styled QGIS project that reads the live database (no copy, no password).

    A group per partitioning set with a layer per level (cells by image count, labelled
    with their place), per model its predictions coloured by error on the paper's ladder,
    the error lines and the median ci per concept by country.

    Example: geotool export qgis --out demo.qgz && qgis demo.qgz
    """
    from geotool.export.qgis import QgisParams, export_qgis

    params = QgisParams(out_path, QgisParams.parse_names(partitions),
                        QgisParams.parse_names(models), split, service, service_file,
                        in_database, name)
    with RichProgress(unit=" layers/s") as progress:
        done = export_qgis(get_engine(database_url), params, progress=progress)
    if done.service_written:
        out.print(f"wrote service {done.service!r} to {done.service_file}")
    out.print(f"{len(done.layers)} layers ({done.features:,} features) through service "
              f"{done.service!r}" + (f"; stored as project {done.project_name!r} with "
                                    f"{done.styles} default styles" if done.stored_in_database
                                    else ""))
    env = "" if "PGSERVICEFILE" in os.environ or done.service_file == \
        Path.home() / ".pg_service.conf" else f"PGSERVICEFILE={done.service_file} "
    if done.path is not None:
        out.print(f"open it: {env}qgis {done.path}")
    if done.stored_in_database:
        out.print(f"or in QGIS: Project → Open From → PostgreSQL (a connection with service "
                  f"{done.service!r}) → public → {done.project_name}")
