"""``geotool boundaries``: load admin boundary files for the offline geocoder.

The work is done by :mod:`geotool.geocode.boundaries`; this module parses arguments
and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out
from geotool.cli.progress import RichProgress
from geotool.db.engine import get_engine
from geotool.geocode.boundaries import (
    load_boundaries,
    read_boundaries,
    source_name,
)

app = typer.Typer(
    help=(
        "Admin boundary files for offline geocoding (geotool geocode --geocoder boundaries)."
        "\n\nExample: geotool boundaries load world/boundaries.geojson"
    ),
    no_args_is_help=True,
)


@app.command("load")
@friendly_errors
def load(
    file: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage or Shapefile (EPSG:4326).")],
    name_field: Annotated[str | None, typer.Option(help="Field with the local name.")] = None,
    name_en_field: Annotated[str | None, typer.Option(help="Field with the English name.")] = None,
    level_field: Annotated[str | None, typer.Option(help="Field with the admin level.")] = None,
    level: Annotated[int | None, typer.Option(
        help="One admin level for every feature (a file without a level field).")] = None,
    key_field: Annotated[str | None, typer.Option(
        help="Field with a unique id (OSM ids like R62422 are kept as they are).")] = None,
    country_field: Annotated[str | None, typer.Option(
        help="Field with the ISO 3166-1 alpha-2 country code.")] = None,
    layer: Annotated[str | None, typer.Option(help="Layer of a GeoPackage.")] = None,
    source: Annotated[str | None, typer.Option(
        help="Name of this boundary set (default: the file's stem); loading the same "
             "source again replaces it.")] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Load admin boundaries (names and levels) into the database.

    Without field options the synthetic planet's, Natural Earth's, geoBoundaries' and
    GADM's field names are recognised. Keys that are not OSM ids become B:<source>:<key>.

    Example: geotool boundaries load world/boundaries.geojson

    Example: geotool boundaries load ne_10m_admin_1.shp --name-field name --level 4
    """
    features = read_boundaries(
        file, source=source, layer=layer, key_field=key_field, name_field=name_field,
        name_en_field=name_en_field, level_field=level_field,
        country_field=country_field, level=level)
    name = source or source_name(file)
    with RichProgress() as progress:
        summary = load_boundaries(get_engine(database_url), features, name, progress=progress)
    levels = ", ".join(f"level {lv}: {n}" for lv, n in summary.levels.items())
    out.print(f"loaded {summary.features} boundaries from {file} as source "
              f"'{summary.source}' ({summary.parts} indexed pieces; {levels})")
