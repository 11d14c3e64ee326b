"""``geotool synth``: build the synthetic planet (world, photos) that the demo and tests use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geotool.cli.common import friendly_errors, out
from geotool.cli.progress import RichProgress

app = typer.Typer(
    help=(
        "The synthetic planet: a seeded world and rendered photos with concept masks.\n\n"
        "Example: geotool synth world --seed 1 --countries 3 --out world/ && "
        "geotool synth photos --world world/ --n 2000 --size 128 --out photos/"
    ),
    no_args_is_help=True,
)


@app.command("world")
@friendly_errors
def world(
    out_dir: Annotated[Path, typer.Option("--out", help="Output directory for the world files.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same bytes.")] = 0,
    countries: Annotated[
        int, typer.Option("--countries", help="Number of countries drawn with the seed.")
    ] = 3,
    country_codes: Annotated[
        str | None,
        typer.Option("--country-codes", help="Comma-separated ISO codes instead, e.g. de,fr."),
    ] = None,
    scale: Annotated[
        float, typer.Option("--scale", help="Multiply the children per level (size knob).")
    ] = 1.0,
) -> None:
    """Generate a synthetic world: real countries split into states, counties, cities,
    districts, streets and landmarks with generated names.

    Writes world.osm (for 'geotool nominatim import'), boundaries.geojson and
    features.geojson (for QGIS) and world.json (the ground truth).

    Example: geotool synth world --seed 1 --countries 40 --out world/
    """
    from geotool.synth.world import generate_world, parse_country_codes

    codes = parse_country_codes(country_codes)
    with RichProgress() as progress:
        result = generate_world(seed, 0 if codes else countries, out_dir,
                                country_codes=codes, scale=scale, progress=progress)
    kinds: dict[str, int] = {}
    for place in result.places:
        kinds[place.kind] = kinds.get(place.kind, 0) + 1
    out.print(world_summary(out_dir, kinds))


def world_summary(out_dir: Path, kinds: dict[str, int]) -> str:
    """``world in DIR: 3 countries, 9 states, …`` (what ``synth world`` prints)."""
    return f"world in {out_dir}: " + ", ".join(f"{n} {plural(k, n)}" for k, n in kinds.items())


def plural(word: str, n: int) -> str:
    """``country`` → ``countries`` unless ``n`` is 1 (English's regular plurals)."""
    if n == 1:
        return word
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


@app.command("photos")
@friendly_errors
def photos(
    world: Annotated[Path, typer.Option("--world", help="World directory (geotool synth world).")],
    n: Annotated[int, typer.Option("--n", help="Number of photos.")],
    size: Annotated[int, typer.Option("--size", help="Photo width and height in pixels.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output directory (new or empty).")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same bytes.")] = 0,
    val_fraction: Annotated[float, typer.Option("--val", help="Share of photos for val.")] = 0.1,
    test_fraction: Annotated[
        float, typer.Option("--test", help="Share of photos for test.")
    ] = 0.1,
    without: Annotated[
        list[str] | None,
        typer.Option("--without", help="Leave a concept out (repeatable), e.g. building."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a photo set already in --out.")
    ] = False,
) -> None:
    """Render street-level photos of a synthetic world with per-pixel ADE20k concept masks.

    Writes images/, masks/, train.csv, val.csv, test.csv, all.csv (id,lat,lon,path,mask_path
    for 'geotool ingest'), photos.json (ground truth) and design.json (which concept is
    informative at which level). Splits never share a photographer.

    Example: geotool synth photos --world world/ --n 2000 --size 128 --out photos/ --seed 1
    """
    from geotool.synth.photos import generate_photos

    with RichProgress() as progress:
        photo_set = generate_photos(
            world, n, size, out_dir, seed,
            val_fraction=val_fraction, test_fraction=test_fraction,
            without=without or (), overwrite=overwrite, progress=progress,
        )
    counts = {s: len(photo_set.split(s)) for s in ("train", "val", "test")}
    out.print(
        f"{len(photo_set.records)} photos in {out_dir}: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
