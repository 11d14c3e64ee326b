"""``geotool geocode``: address vectors for a dataset's images (parses, calls
:func:`geotool.geocode.pipeline.geocode`, shows progress)."""

from __future__ import annotations

from typing import Annotated

import typer

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out
from geotool.cli.progress import RichProgress


@friendly_errors
def geocode(
    dataset: Annotated[str, typer.Option("--dataset", help="Name of the dataset to geocode.")],
    geocoder: Annotated[
        str,
        typer.Option("--geocoder", help="nominatim (in-process, local import), http "
                     "(--nominatim-url), bulk (SQL on local Nominatim tables), boundaries, "
                     "geonames (country polygons + GeoNames places)."),
    ] = "nominatim",
    nominatim_url: Annotated[
        str | None,
        typer.Option("--nominatim-url", envvar="GEOTOOL_NOMINATIM_URL",
                     help="Nominatim HTTP endpoint for --geocoder http."),
    ] = None,
    nominatim_dsn: Annotated[
        str | None,
        typer.Option("--nominatim-dsn", envvar="NOMINATIM_DATABASE_DSN",
                     help="Nominatim database (pgsql:dbname=...;host=...) for --geocoder "
                     "nominatim; default: the local import in geotool's server."),
    ] = None,
    precision: Annotated[
        int | None,
        typer.Option("--precision", help="Round coordinates to P decimals before querying "
                     "(4 ≈ 11 m); default: exact coordinates."),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Reverse queries in flight at once (geonames: "
                          "database connections working at once) "
                          "(more helps when Nominatim has spare cores; see docs/benchmarks.md).")
    ] = 2,
    simplify: Annotated[
        float, typer.Option("--simplify", help="Polygon simplification tolerance (degrees).")
    ] = 0.0,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Coordinates per committed batch "
                                 "(default: 500; bulk: 2,000, measured in docs/benchmarks.md).")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="HTTP timeout per request (seconds).")
    ] = 30.0,
    retries: Annotated[
        int, typer.Option("--retries", help="HTTP retries after a transient failure.")
    ] = 5,
    no_details: Annotated[
        bool, typer.Option("--no-details", help="Skip fetching location polygons/attributes.")
    ] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Geocode images marked failed again.")
    ] = False,
    city_km: Annotated[
        float, typer.Option("--city-km", help="geonames: the nearest place names the photo "
                            "when it is within this distance.")
    ] = 25.0,
    admin_km: Annotated[
        float, typer.Option("--admin-km", help="geonames: the nearest place's admin areas "
                            "name the photo when it is within this distance.")
    ] = 250.0,
    coast_km: Annotated[
        float, typer.Option("--coast-km", help="geonames: a point outside every country "
                            "polygon takes the nearest country within this distance.")
    ] = 20.0,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Reverse-geocode every image of a dataset into its address vector (finest first,
    postcodes ignored) and store each location once with its polygon. Resumable: stop it
    at any time and run it again; a finished dataset reports 0 to do.

    Example: geotool geocode --dataset demo --geocoder nominatim --precision 5 --concurrency 2

    Example: geotool geocode --dataset mp16 --geocoder geonames
    """
    from geotool.db.engine import get_engine
    from geotool.geocode.pipeline import GeocodeParams
    from geotool.geocode.pipeline import geocode as geocode_stage
    from geotool.geocode.registry import GeocoderOptions
    from geotool.settings import load_settings

    settings = load_settings()
    # the configured URL is for --geocoder http only; another geocoder gets only a given one
    url = nominatim_url or settings.nominatim_url if geocoder == "http" else nominatim_url
    options = GeocoderOptions(
        database_url=database_url, nominatim_url=url, nominatim_dsn=nominatim_dsn,
        concurrency=concurrency, simplify=simplify, user_agent=settings.user_agent,
        timeout=timeout, retries=retries,
        extra={"city_km": city_km, "admin_km": admin_km, "coast_km": coast_km})
    params = GeocodeParams(dataset=dataset, geocoder=geocoder, options=options,
                           precision=precision, batch_size=batch_size,
                           details=not no_details, retry_failed=retry_failed)
    engine = get_engine(database_url)
    with RichProgress() as progress:
        summary = geocode_stage(engine, params, progress=progress)
    if summary.images_todo == 0 and summary.details_written == 0:
        out.print(f"{dataset}: 0 images to geocode; nothing to do.")
        return
    out.print(
        f"{dataset}: {summary.images_written:,} images geocoded with {summary.geocoder} "
        f"({summary.ok:,} ok, {summary.unplaceable:,} unplaceable, {summary.failed:,} failed); "
        f"{summary.points_queried:,} coordinates queried, {summary.points_cached:,} from the "
        f"cache; {summary.details_written:,} location details stored in "
        f"{summary.seconds:,.1f} s."
    )
