"""``geotool partitions``: look at the multi-partitionings in the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out, uncut_table
from geotool.cli.progress import RichProgress
from geotool.db.engine import get_engine
from geotool.partition.reference_import import ReferenceParams, import_reference
from geotool.partition.summary import list_sets, show_set

app = typer.Typer(help="List and inspect partitioning sets.\n\n"
                  "Example: geotool partitions show semp_50_75_100", no_args_is_help=True)


@app.command("list")
@friendly_errors
def list_(database_url: DatabaseUrlOption = None) -> None:
    """List the partitioning sets with their scheme, dataset and class counts.

    Example: geotool partitions list
    """
    table = uncut_table("name", "scheme", "dataset", "partitionings", "classes", "created")
    for s in list_sets(get_engine(database_url)):
        table.add_row(s.name, s.scheme, s.dataset or "-", str(s.n_partitionings),
                      f"{s.n_classes:,}", str(s.created_at)[:19])
    out.print(table)


@app.command("show")
@friendly_errors
def show(
    name: Annotated[str, typer.Argument(help="Name of the partitioning set.")],
    database_url: DatabaseUrlOption = None,
) -> None:
    """Per partitioning: classes, labelled images, images per class, hierarchy depth, and
    orphans (fine classes without an ancestor at that level).

    Example: geotool partitions show semp_50_75_100
    """
    params, levels = show_set(get_engine(database_url), name)
    out.print(f"[bold]{name}[/] {params}")
    table = uncut_table("level", "partitioning", "τ", "classes", "labelled", "img/class min",
                        "median", "max", "depth", "orphans", "geometry")
    for lv in levels:
        depth = "-" if lv.depth_min is None else f"{lv.depth_min}–{lv.depth_max}"
        table.add_row(str(lv.level), lv.name, str(lv.tau or "-"), f"{lv.n_classes:,}",
                      f"{lv.n_labelled:,}", str(lv.images_min or "-"),
                      "-" if lv.images_median is None else f"{lv.images_median:g}",
                      str(lv.images_max or "-"), depth, f"{lv.n_orphans:,}",
                      ", ".join(f"{k} {v}" for k, v in sorted(lv.geom_sources.items())))
    out.print(table)


@app.command("import")
@friendly_errors
def import_(
    name: Annotated[str, typer.Argument(help="Name for the imported set.")],
    files: Annotated[list[Path], typer.Argument(
        help="The release's m_<n>.csv files (SemP) or cells_*.csv files (S2).")],
    h_dict: Annotated[Path | None, typer.Option(
        "--h-dict", help="SemP h_dict.json: each class's parent in the next coarser level.")
    ] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Import a reference release's partitionings into the same tables as builds.

    Example: geotool partitions import semp_ref m_5212.csv m_11252.csv --h-dict h_dict.json
    """
    params = ReferenceParams(name=name, files=tuple(files), h_dict=h_dict)
    params.validate()
    with RichProgress(transient=True) as progress:
        done = import_reference(get_engine(database_url), params, progress=progress)
    out.print(f"imported {done.partitionings} partitionings as {name} (set {done.set_id})")
