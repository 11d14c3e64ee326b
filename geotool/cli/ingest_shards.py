"""``geotool ingest-shards``: index GeoEstimation msgpack shards for training."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out
from geotool.db.engine import get_engine


@friendly_errors
def ingest_shards(
    directory: Annotated[Path, typer.Argument(help="Folder of shard_<i>.msg files.")],
    dataset: Annotated[str, typer.Option(help="Dataset whose images the shards hold.")],
    database_url: DatabaseUrlOption = None,
) -> None:
    """Index msgpack shards (records {id, image}) so training reads images from them.

    Each record's shard, byte offset and length is stored in shard_index for the image
    of the dataset with that id; training then reads it by random access. Records whose
    id is not in the dataset are counted and reported. Ingest the metadata CSV first.

    Example: geotool ingest-shards /data/mp16/shards --dataset mp16
    """
    from geotool.cli.progress import RichProgress
    from geotool.ingest.shards import ShardParams
    from geotool.ingest.shards import ingest_shards as run

    params = ShardParams(directory=directory, dataset=dataset)
    params.validate()
    with RichProgress() as progress:
        summary = run(get_engine(database_url), params, progress=progress)
    out.print(f"{summary.shards} shards, {summary.records:,} records: {summary.indexed:,} "
              f"indexed for dataset {dataset}")
    if summary.unknown_ids:
        out.print(f"[yellow]{summary.unknown_ids:,} records have ids that are not images of "
                  f"{dataset}[/] (e.g. {', '.join(summary.unknown_examples)}); they are not "
                  "used")
    if summary.duplicates:
        out.print(f"[yellow]{summary.duplicates:,} records repeat an id already indexed[/]")
