"""``geotool gallery``: the GPS galleries alignment models answer from, and their cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out
from geotool.cli.progress import RichProgress
from geotool.db.engine import get_engine
from geotool.errors import InvalidValueError

app = typer.Typer(help="GPS galleries for alignment models: load, list, clear the cache.\n\n"
                  "Example: geotool gallery load --name geoclip_100k --csv coordinates_100K.csv",
                  no_args_is_help=True)


@app.command("load")
@friendly_errors
def load(
    name: Annotated[str, typer.Option("--name", help="Name of the gallery.")],
    csv: Annotated[Path | None, typer.Option(
        "--csv", help="A LAT,LON file (e.g. GeoCLIP's coordinates_100K.csv).",
        show_default=False)] = None,
    dataset: Annotated[str | None, typer.Option(
        "--dataset", help="A dataset's distinct photo coordinates (see --split).",
        show_default=False)] = None,
    cells: Annotated[str | None, typer.Option(
        "--cells", help="A partitioning's cell centres (its name, e.g. tiny_l0).",
        show_default=False)] = None,
    split: Annotated[str, typer.Option(
        "--split", help="With --dataset: train, val, test or all.")] = "train",
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create or refresh a gallery from a CSV, a dataset's coordinates or a partitioning's
    cells; its points are rewritten (and its cached embeddings dropped) only when they
    changed.

    Example: geotool gallery load --name demo_train --dataset demo --split train
    """
    from geotool.learn.align.gallery import GalleryParams, load_gallery

    given = [(s, str(v)) for s, v in (("csv", csv), ("dataset", dataset), ("cells", cells))
             if v is not None]
    if len(given) != 1:
        raise InvalidValueError("give exactly one of --csv FILE, --dataset NAME or "
                                "--cells PARTITIONING")
    source, ref = given[0]
    with RichProgress(unit=" points/s") as progress:
        summary = load_gallery(get_engine(database_url),
                               GalleryParams(name, source, ref, split), progress=progress)
    what = "written" if summary.changed else "unchanged"
    out.print(f"gallery {summary.name}: {summary.n_points:,} points from {summary.source} "
              f"{summary.ref} ({what}; sha256 {summary.content_sha256[:12]})")


@app.command("list")
@friendly_errors
def list_(database_url: DatabaseUrlOption = None) -> None:
    """The galleries with their size, source and cached embedding sets.

    Example: geotool gallery list
    """
    from geotool.learn.align.gallery import list_galleries

    table = Table("name", "source", "from", "points", "sha256", "cached models", "created")
    for g in list_galleries(get_engine(database_url)):
        table.add_row(str(g["name"]), str(g["source"]), str(g["source_ref"]),
                      f"{g['n_points']:,}", str(g["sha256"]), str(g["cached_models"]),
                      str(g["created_at"])[:19])
    out.print(table)


@app.command("clear-cache")
@friendly_errors
def clear_cache(
    gallery: Annotated[str | None, typer.Option(
        "--gallery", help="Only this gallery's cached embeddings (default: all).",
        show_default=False)] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Delete cached gallery embeddings; the next prediction computes them again.

    Example: geotool gallery clear-cache --gallery geoclip_100k
    """
    from geotool.learn.align.cache import clear_cache as run_clear

    n = run_clear(get_engine(database_url), gallery)
    out.print(f"deleted {n} cached embedding set(s)")
