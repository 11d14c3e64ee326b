"""``geotool resample``: draw an N-photo coordinate file from real coordinates (parses,
calls :func:`geotool.ingest.resample.resample`, prints)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geotool.cli.common import friendly_errors, out
from geotool.cli.progress import RichProgress


@friendly_errors
def resample(
    source: Annotated[Path, typer.Argument(
        help="Coordinates to draw from: any file geotool ingest reads (e.g. GeoCLIP's "
             "coordinates_100K.csv).")],
    n: Annotated[int, typer.Option("--n", help="Number of coordinates to draw.")],
    out_path: Annotated[Path, typer.Option("--out", help="CSV to write (id,lat,lon).")],
    jitter_km: Annotated[float, typer.Option(
        "--jitter-km", help="Standard deviation of the east and north offsets (km).")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the draw.")] = 0,
    fmt: Annotated[str, typer.Option(
        "--format", help="Format of SOURCE, as for geotool ingest.")] = "auto",
) -> None:
    """Draw N coordinates from SOURCE with replacement, each moved by a small random
    offset (seeded: the same arguments write the same file), for scale runs at MP-16 size.

    Example: geotool resample coordinates_100K.csv --n 4723695 --out mp16like.csv --seed 0
    """
    from geotool.ingest.resample import ResampleParams
    from geotool.ingest.resample import resample as draw

    params = ResampleParams(source, out_path, n=n, jitter_km=jitter_km, seed=seed,
                            source_format=fmt)
    with RichProgress(unit=" points/s", transient=True) as progress:
        summary = draw(params, progress=progress)
    out.print(f"wrote {summary.written:,} coordinates drawn from {summary.source_points:,} "
              f"in {source} to {out_path}")
