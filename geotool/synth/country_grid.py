"""Real country shapes from Nominatim's country grid, read locally.

Nominatim assigns every imported object its country from ``country_osm_grid`` (shipped in the
``nominatim-db`` package as ``country_osm_grid.sql.gz``). The synthetic planet therefore places
its countries exactly where that grid says the real ones are: a synthetic country with ISO code
``de`` is built inside the grid's ``de`` cells, so Nominatim agrees on the country of everything
in it. This module finds the file, parses its COPY block and unions the cells per country.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import shapely
from shapely.geometry.base import BaseGeometry

from geotool.errors import require_module
from geotool.synth.errors import SynthError

GRID_FILE_NAME = "country_osm_grid.sql.gz"


@dataclass(frozen=True)
class GridCountry:
    """One country of the grid: ISO code, area in km² and the union of its cells."""

    code: str
    area_km2: float
    cells: tuple[BaseGeometry, ...]

    @property
    def shape(self) -> BaseGeometry:
        """The union of the country's grid cells (may be a MultiPolygon)."""
        return _union(self.code)


def find_grid_file() -> Path:
    """Locate ``country_osm_grid.sql.gz`` inside the installed ``nominatim_db`` package."""
    require_module("nominatim_db", "nominatim",
                   "the synthetic world (Nominatim's country grid ships with nominatim-db)")
    import nominatim_db
    path = Path(nominatim_db.__file__).parent / "resources" / GRID_FILE_NAME
    if not path.is_file():  # pragma: no cover - depends on the environment
        raise SynthError(f"Nominatim's country grid is missing: expected it at {path}")
    return path


@cache
def load_grid() -> dict[str, GridCountry]:
    """All countries of the grid keyed by lower-case ISO 3166-1 alpha-2 code."""
    hex_cells: dict[str, list[str]] = {}
    areas: dict[str, float] = {}
    with gzip.open(find_grid_file(), "rt", encoding="utf-8") as handle:
        in_copy = False
        for line in handle:
            if not in_copy:
                in_copy = line.startswith("COPY ")
                continue
            if line.startswith("\\."):
                break
            code, area, geometry = line.rstrip("\n").split("\t")
            hex_cells.setdefault(code, []).append(geometry)
            areas[code] = float(area) / 1e6
    return {
        code: GridCountry(code, areas[code], tuple(shapely.from_wkb(cells)))
        for code, cells in sorted(hex_cells.items())
    }


@cache
def _union(code: str) -> BaseGeometry:
    return shapely.union_all(load_grid()[code].cells)


def grid_country(code: str) -> GridCountry:
    """The grid entry for ``code`` (case-insensitive); :class:`SynthError` when unknown."""
    grid = load_grid()
    key = code.strip().lower()
    if key not in grid:
        raise SynthError(
            f"unknown country code {code!r}: Nominatim's country grid has no such country; "
            "use ISO 3166-1 alpha-2 codes such as 'de' or 'fr'"
        )
    return grid[key]


def main_part(code: str) -> shapely.Polygon:
    """The largest connected polygon of a country's grid shape (its mainland)."""
    shape = _union(code)
    parts = list(shape.geoms) if isinstance(shape, shapely.MultiPolygon) else [shape]
    return max(parts, key=lambda part: part.area)


@cache
def _cell_index() -> tuple[tuple[str, ...], shapely.STRtree]:
    codes: list[str] = []
    cells: list[BaseGeometry] = []
    for code, country in load_grid().items():
        codes += [code] * len(country.cells)
        cells += country.cells
    return tuple(codes), shapely.STRtree(cells)


def neighbours(code: str) -> set[str]:
    """Codes of the countries whose grid cells touch this country's mainland (land borders)."""
    codes, tree = _cell_index()
    near = tree.query(main_part(code), predicate="dwithin", distance=0.01)
    return {codes[int(i)] for i in near} - {code}


def mainland_share(code: str) -> float:
    """Share of the grid area that lies in the mainland polygon (1.0 for one-piece countries)."""
    shape = _union(code)
    return float(main_part(code).area / shape.area)
