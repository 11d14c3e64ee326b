"""``geotool build``: build a named multi-partitioning (SemP or S2) in the database."""

from __future__ import annotations

from typing import Annotated

import typer

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out
from geotool.cli.progress import RichProgress
from geotool.db.engine import get_engine
from geotool.partition.build import BuildParams, build_partitioning


@friendly_errors
def build(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="Name of the multi-partitioning.")],
    tau: Annotated[list[str] | None, typer.Option(
        "--tau", help="Thresholds τ (semantic), e.g. --tau 50 75 100.")] = None,
    scheme: Annotated[str, typer.Option(
        help="semantic (SemP), s2, or countries (pre-training classes; --tau N: at "
        "least N images per class, default 1000).")] = "semantic",
    dataset: Annotated[str | None, typer.Option(
        help="Dataset to partition (default: the only one).")] = None,
    split: Annotated[str, typer.Option(help="Split the partitioning is built from.")] = "train",
    areas_only: Annotated[bool, typer.Option(
        "--areas-only", help="Only locations with an OSM polygon may be classes.")] = False,
    min_images: Annotated[int, typer.Option(
        help="A location needs at least this many images to be a class at any τ.")] = 1,
    img_min: Annotated[int, typer.Option(help="S2: drop cells with fewer images.")] = 50,
    img_max: Annotated[list[str] | None, typer.Option(
        "--img-max", help="S2: split cells holding more images; several give several "
        "partitionings (default 5000 2000 1000).")] = None,
    s2_start_level: Annotated[int, typer.Option(help="S2: level the splitting starts at.")] = 2,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Build (or atomically replace) a named multi-partitioning, fine → coarse.

    Semantic: the location hierarchy of the dataset's address vectors, then one
    partitioning per τ. S2: adaptive S2 cells, one partitioning per --img-max.

    Example: geotool build --tau 50 75 100 --name semp_50_75_100 --dataset mp16

    Example: geotool build --scheme s2 --img-min 50 --img-max 5000 2000 1000 --name s2_m

    Example: geotool build --scheme countries --tau 1000 --name countries_1000
    """
    params = BuildParams.from_flags(
        name, scheme, taus=tau or [], img_maxes=img_max or [], extra=list(ctx.args),
        dataset=dataset, split=split, areas_only=areas_only, min_images=min_images,
        img_min=img_min, s2_start_level=s2_start_level)
    params.validate()
    engine = get_engine(database_url)
    with RichProgress(transient=True) as progress:
        summary = build_partitioning(engine, params, progress=progress)
    out.print(f"[bold]{summary.name}[/] ({summary.scheme}) from {summary.n_train_images:,} "
              f"{split} images of {summary.dataset}; labels in view {summary.label_view}")
    for lv in summary.levels:
        out.print(f"  level {lv.level} {lv.name}: {lv.n_classes:,} classes, "
                  f"{lv.n_labelled:,} labelled images")
