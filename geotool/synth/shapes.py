"""Seeded geometry for the synthetic planet: splitting areas, city outlines, streets, buildings.

All shapes are in WGS84 degrees. Sizes are given in metres and converted with a local
equirectangular scale, which is accurate enough for objects of a few kilometres.
"""

from __future__ import annotations

import math
import random

import shapely
from shapely import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

METRES_PER_DEGREE = 111_320.0
COORD_DECIMALS = 7


def degrees(metres: float) -> float:
    """Metres as degrees of latitude."""
    return metres / METRES_PER_DEGREE


def snap(geometry: BaseGeometry) -> BaseGeometry:
    """Round coordinates to the 7 decimals written to OSM XML, so every file agrees."""
    return shapely.set_precision(geometry, 10.0 ** -COORD_DECIMALS, mode="pointwise")


def random_point_in(area: BaseGeometry, rng: random.Random, *, tries: int = 2000) -> Point | None:
    """A uniformly random point inside ``area`` (rejection sampling), or None."""
    min_x, min_y, max_x, max_y = area.bounds
    prepared = prep(area)
    for _ in range(tries):
        point = Point(rng.uniform(min_x, max_x), rng.uniform(min_y, max_y))
        if prepared.contains(point):
            return point
    return None


def polygons_of(geometry: BaseGeometry) -> list[Polygon]:
    """The polygons of a (multi)polygon or collection, dropping everything else."""
    if isinstance(geometry, Polygon):
        return [geometry] if not geometry.is_empty else []
    if hasattr(geometry, "geoms"):
        return [part for sub in geometry.geoms for part in polygons_of(sub)]
    return []


def as_area(geometry: BaseGeometry) -> Polygon | MultiPolygon:
    """A valid Polygon or MultiPolygon made of the polygonal parts of ``geometry``."""
    parts = polygons_of(shapely.make_valid(geometry))
    if len(parts) == 1:
        return parts[0]
    return MultiPolygon(parts)


def split_area(area: BaseGeometry, count: int, rng: random.Random,
               min_share: float = 0.08) -> list[Polygon | MultiPolygon]:
    """Cut ``area`` into ``count`` Voronoi cells of seeded points (cells cover the whole area).

    Seeds are drawn with a minimum spacing so that no cell is tiny; every cell's area is
    at least ``min_share / count`` of the whole when that is achievable.
    """
    if count <= 1:
        return [as_area(area)]
    best: list[Polygon | MultiPolygon] = []
    best_score = -1.0
    for _ in range(8):
        seeds = [random_point_in(area, rng) for _ in range(count)]
        points = [p for p in seeds if p is not None]
        if len(points) < count:
            continue
        cells = shapely.voronoi_polygons(shapely.MultiPoint(points), extend_to=area.envelope)
        pieces = [as_area(cell.intersection(area)) for cell in cells.geoms]
        pieces = [piece for piece in pieces if not piece.is_empty]
        if len(pieces) != count:
            continue
        score = min(piece.area for piece in pieces) / area.area
        if score > best_score:
            best, best_score = pieces, score
        if score >= min_share / count:
            break
    if not best:
        raise RuntimeError("could not split area")  # pragma: no cover - needs degenerate input
    # Sort the cells north-west first so that the order does not depend on Voronoi internals.
    best.sort(key=lambda piece: (-round(piece.centroid.y, 6), round(piece.centroid.x, 6)))
    return best


def blob(center: Point, radius_m: float, rng: random.Random, vertices: int = 10) -> Polygon:
    """An irregular, star-shaped outline around ``center`` with about ``radius_m`` radius."""
    scale_x = 1.0 / max(math.cos(math.radians(center.y)), 0.2)
    radius = degrees(radius_m)
    offset = rng.uniform(0, 2 * math.pi)
    ring = []
    for i in range(vertices):
        angle = offset + 2 * math.pi * i / vertices
        r = radius * rng.uniform(0.75, 1.0)
        ring.append((center.x + r * math.cos(angle) * scale_x, center.y + r * math.sin(angle)))
    return Polygon(ring)


def _local_vector(lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    scale_x = 1.0 / max(math.cos(math.radians(lat)), 0.2)
    return degrees(east_m) * scale_x, degrees(north_m)


def street_line(area: BaseGeometry, rng: random.Random, length_m: float) -> LineString | None:
    """A gently bent three-node street of about ``length_m`` inside ``area``, or None."""
    prepared = prep(area)
    for _ in range(200):
        middle = random_point_in(area, rng, tries=200)
        if middle is None:
            return None
        angle = rng.uniform(0, math.pi)
        half = length_m / 2
        dx, dy = _local_vector(middle.y, half * math.cos(angle), half * math.sin(angle))
        bend_x, bend_y = _local_vector(middle.y, *(rng.uniform(-0.1, 0.1) * half
                                                   for _ in range(2)))
        line = LineString([(middle.x - dx, middle.y - dy),
                           (middle.x + bend_x, middle.y + bend_y),
                           (middle.x + dx, middle.y + dy)])
        if prepared.contains(line):
            return line
    return None


def building_beside(street: LineString, rng: random.Random, offset_m: float,
                    size_m: float) -> Polygon:
    """A rectangular building of about ``size_m`` whose centre is ``offset_m`` beside ``street``.

    The building is aligned with the street segment it faces, on a random side.
    """
    coords = list(street.coords)
    segment = rng.randrange(len(coords) - 1)
    (x0, y0), (x1, y1) = coords[segment], coords[segment + 1]
    t = rng.uniform(0.3, 0.7)
    base_x, base_y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
    scale_x = 1.0 / max(math.cos(math.radians(base_y)), 0.2)
    # Direction of the segment in metres.
    east, north = (x1 - x0) / scale_x, (y1 - y0)
    norm = math.hypot(east, north) or 1.0
    east, north = east / norm, north / norm
    side = rng.choice((-1.0, 1.0))
    normal_e, normal_n = -north * side, east * side
    centre_x, centre_y = (base_x + degrees(offset_m * normal_e) * scale_x,
                          base_y + degrees(offset_m * normal_n))
    half_long, half_short = size_m / 2, size_m * rng.uniform(0.25, 0.45)
    corners = []
    for along, across in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        e = along * half_long * east + across * half_short * normal_e
        n = along * half_long * north + across * half_short * normal_n
        corners.append((centre_x + degrees(e) * scale_x, centre_y + degrees(n)))
    return Polygon(corners)
