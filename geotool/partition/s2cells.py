"""Adaptive S2 cells (Müller-Budack et al., ECCV 2018), the baseline partitioning.

Every image becomes its S2 leaf cell id (level 30). Starting from the cells of a coarse
level that hold images, a cell is split into its four children while it holds more than
``img_max`` images (up to level 30); at the end cells with fewer than ``img_min`` images
are dropped, and their images are unlabelled. The ids are kept as a sorted numpy array,
so counting the images of a cell is two binary searches over its leaf range.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import s2sphere
from shapely.affinity import translate
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from shapely.validation import make_valid

from geotool.errors import InvalidValueError

MAX_LEVEL = 30
U64 = npt.NDArray[np.uint64]


def leaf_id(lat: float, lon: float) -> int:
    """The S2 leaf cell id (unsigned 64 bit) of a coordinate."""
    return int(s2sphere.CellId.from_lat_lng(s2sphere.LatLng.from_degrees(lat, lon)).id())


def leaf_ids(points: Iterable[tuple[float, float]]) -> U64:
    """Leaf ids of many ``(lat, lon)`` points, as an unsigned array."""
    return np.fromiter((leaf_id(lat, lon) for lat, lon in points), dtype=np.uint64)


def _lsb(level: int) -> np.uint64:
    return np.uint64(1 << (2 * (MAX_LEVEL - level)))


def parent_ids(leaves: U64, level: int) -> U64:
    """The ids of the level-``level`` cells holding the given leaf ids."""
    lsb = _lsb(level)
    mask = ~(lsb * np.uint64(2) - np.uint64(1))
    return (leaves & mask) | lsb


def cell_range(cell: int, level: int) -> tuple[int, int]:
    """The smallest and largest leaf id inside a cell."""
    lsb = 1 << (2 * (MAX_LEVEL - level))
    return cell - (lsb - 1), cell + (lsb - 1)


def children(cell: int, level: int) -> list[int]:
    """The four children of a cell, in Hilbert-curve order."""
    child_lsb = 1 << (2 * (MAX_LEVEL - level - 1))
    first = cell - (1 << (2 * (MAX_LEVEL - level))) + child_lsb
    return [first + k * 2 * child_lsb for k in range(4)]


@dataclass(frozen=True)
class S2Cell:
    """One adaptive cell: its id, level and number of images."""

    cell_id: int
    level: int
    n_images: int

    @property
    def token(self) -> str:
        return str(s2sphere.CellId(self.cell_id).to_token())

    @property
    def range(self) -> tuple[int, int]:
        return cell_range(self.cell_id, self.level)


def adaptive_cells(sorted_leaves: U64, img_min: int, img_max: int,
                   start_level: int = 2) -> list[S2Cell]:
    """The adaptive cells of sorted leaf ids, ordered by id (= along the Hilbert curve)."""
    if img_min < 1 or img_max < img_min:
        raise InvalidValueError(
            f"S2 cells need 1 <= img_min <= img_max (got img_min={img_min}, img_max={img_max})"
        )
    if not 0 <= start_level <= MAX_LEVEL:
        raise InvalidValueError(f"S2 start level must lie in 0..30 (got {start_level})")

    def count(cell: int, level: int) -> int:
        lo, hi = cell_range(cell, level)
        left = np.searchsorted(sorted_leaves, np.uint64(lo), side="left")
        right = np.searchsorted(sorted_leaves, np.uint64(hi), side="right")
        return int(right - left)

    todo = [(int(c), start_level) for c in np.unique(parent_ids(sorted_leaves, start_level))]
    done: list[S2Cell] = []
    while todo:
        cell, level = todo.pop()
        n = count(cell, level)
        if n == 0:
            continue
        if n > img_max and level < MAX_LEVEL:
            todo.extend((child, level + 1) for child in children(cell, level))
        else:
            done.append(S2Cell(cell, level, n))
    kept = [c for c in done if c.n_images >= img_min]
    return sorted(kept, key=lambda c: c.cell_id)


def assign(leaves: U64, cells: list[S2Cell]) -> npt.NDArray[np.int64]:
    """For each leaf id, the index into ``cells`` (sorted by id) holding it, or -1."""
    if not cells:
        return np.full(len(leaves), -1, dtype=np.int64)
    starts = np.array([c.range[0] for c in cells], dtype=np.uint64)
    ends = np.array([c.range[1] for c in cells], dtype=np.uint64)
    idx = np.searchsorted(starts, leaves, side="right").astype(np.int64) - 1
    ok = idx >= 0
    inside = np.zeros(len(leaves), dtype=bool)
    inside[ok] = leaves[ok] <= ends[idx[ok]]
    return np.where(inside, idx, -1)


def cell_polygon_wkt(cell_id: int, points_per_edge: int = 8) -> str:
    """The cell's boundary in lon/lat as WKT, edges densified along great circles.

    Longitudes are unwrapped along the boundary; a cell that crosses the antimeridian
    becomes a MultiPolygon cut at ±180°. (A cell around a pole — only cells of the
    coarsest levels — is drawn as its unwrapped ring closed along the pole.)
    """
    cell = s2sphere.Cell(s2sphere.CellId(cell_id))
    verts = [cell.get_vertex(k) for k in range(4)]
    coords: list[tuple[float, float]] = []
    for k in range(4):
        a, b = verts[k], verts[(k + 1) % 4]
        for step in range(points_per_edge):
            t = step / points_per_edge
            p = s2sphere.Point(*(a[i] * (1 - t) + b[i] * t for i in range(3)))
            ll = s2sphere.LatLng.from_point(p.normalize())
            lon = ll.lng().degrees
            if coords:
                lon += 360.0 * round((coords[-1][0] - lon) / 360.0)
            coords.append((lon, ll.lat().degrees))
    return _split_at_antimeridian(coords).wkt


def _split_at_antimeridian(ring: list[tuple[float, float]]) -> BaseGeometry:
    drift = ring[-1][0] - ring[0][0]
    if abs(drift) > 180.0:  # the ring winds around a pole: close it along the pole
        pole = 90.0 if sum(y for _, y in ring) > 0 else -90.0
        ring = [*ring, (ring[-1][0], pole), (ring[0][0], pole)]
    poly = make_valid(Polygon(ring))
    world = box(-180.0, -90.0, 180.0, 90.0)
    parts = [shift(poly, k * 360.0).intersection(world) for k in (-2, -1, 0, 1, 2)]
    merged = unary_union([p for p in parts if not p.is_empty])
    polys = [g for g in getattr(merged, "geoms", [merged]) if isinstance(g, Polygon)]
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


def shift(geom: BaseGeometry, dx: float) -> BaseGeometry:
    return translate(geom, xoff=dx)
