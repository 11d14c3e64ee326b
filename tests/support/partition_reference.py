"""A plain-Python reference of docs/method.md §2–§3 (hierarchy and partitioning at τ),
written from the specification to check the SQL build against. It works on osm keys
only, so it cannot share a mistake with the SQL's handling of surrogate ids.

Decisions it encodes (documented in sql/partition/hierarchy.sql): parent preference =
edge count desc, parent strictly coarser than the child first (both ranks known, parent
rank lower), parent rank_address desc (None as 0), parent admin_level desc (None as 0),
parent osm key asc (bytewise); the cycles of that parent function, taken in the order of
their smallest member key (bytewise), lose the edge last in that order, and its child
takes its best candidate whose chain of parents does not lead back to it (else none);
a location is a class candidate at τ when count(l) >= τ (and it has a polygon when
areas_only); images of other splits take the finest class on the path from the finest
entry of their vector that is in the hierarchy.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from .partition_data import World


@dataclass
class Reference:
    parent: dict[str, str | None]
    count: dict[str, int]
    path: dict[str, list[str]]  # node -> [node, parent, ..., root]
    classes: list[list[str]]  # per level, in class-index order
    labels: list[dict[str, int]]  # per level: external id -> class index
    ancestors: list[dict[tuple[int, int], int | None]]  # (class, coarser level) -> class
    n_images: list[list[int]]
    means: list[list[tuple[float, float]]]
    texts: list[list[str]]


def _pref(world: World, child: str, parent: str, n: int
          ) -> tuple[int, bool, int, int, bytes]:
    """Sort key of a candidate parent: the smallest is preferred, the largest is weakest."""
    loc, rank = world.locations[parent], world.locations[child].rank
    coarser = loc.rank is not None and rank is not None and loc.rank < rank
    return (-n, not coarser, -(loc.rank or 0), -(loc.admin or 0), parent.encode())


def reference(world: World, taus: list[int], areas_only: bool = False,
              split: str = "train") -> Reference:
    train = [im for im in world.images if im.split == split]
    edges: Counter[tuple[str, str]] = Counter()
    nodes: set[str] = set()
    for im in train:
        nodes.update(im.address)
        for a, b in zip(im.address, im.address[1:], strict=False):
            if a != b:
                edges[(a, b)] += 1
    parent: dict[str, str | None] = {}
    edge_n: dict[str, int] = {}
    candidates: dict[str, list[tuple[str, int]]] = {}
    for node in nodes:
        cands = sorted(((p, n) for (c, p), n in edges.items() if c == node),
                       key=lambda e, node=node: _pref(world, node, e[0], e[1]))
        candidates[node] = cands
        parent[node], edge_n[node] = cands[0] if cands else (None, 0)
    # the cycles of that parent function, each broken at its weakest edge
    cycles: list[list[str]] = []
    seen: set[str] = set()
    for start in sorted(nodes):
        trail: list[str] = []
        cur: str | None = start
        while cur is not None and cur not in seen and cur not in trail:
            trail.append(cur)
            cur = parent[cur]
        if cur is not None and cur in trail:
            cycles.append(trail[trail.index(cur):])
        seen.update(trail)

    def reaches(start: str, target: str) -> bool:
        cur: str | None = start
        visited: set[str] = set()
        while cur is not None and cur not in visited:
            if cur == target:
                return True
            visited.add(cur)
            cur = parent[cur]
        return False

    for cycle in sorted(cycles, key=lambda c: min(m.encode() for m in c)):
        weakest = max(cycle, key=lambda m: _pref(world, m, parent[m] or "", edge_n[m]))
        parent[weakest], edge_n[weakest] = next(
            ((p, n) for p, n in candidates[weakest] if not reaches(p, weakest)), (None, 0))
    path: dict[str, list[str]] = {}
    for node in nodes:
        p = [node]
        while parent[p[-1]] is not None:
            p.append(parent[p[-1]])  # type: ignore[arg-type]
        path[node] = p
    count: Counter[str] = Counter()
    for im in train:
        for loc in path[im.address[0]]:
            count[loc] += 1

    def anchor(address: tuple[str, ...]) -> str | None:
        return next((a for a in address if a in nodes), None)

    classes, labels, n_images, means, texts = [], [], [], [], []
    for tau in sorted(taus):
        qual = {n for n in nodes if count[n] >= tau and
                (not areas_only or world.locations[n].polygon_wkt is not None)}
        cls = sorted({next((q for q in path[im.address[0]] if q in qual), None)
                      for im in train} - {None}, key=lambda k: k.encode())  # type: ignore
        index = {k: i for i, k in enumerate(cls)}
        lab: dict[str, int] = {}
        for im in world.images:
            a = anchor(im.address)
            if a is None:
                continue
            c = next((q for q in path[a] if q in index), None)
            if c is not None:
                lab[im.external_id] = index[c]
        members: list[list[tuple[float, float]]] = [[] for _ in cls]
        for im in train:
            if im.external_id in lab:
                members[lab[im.external_id]].append((im.lat, im.lon))
        classes.append(cls)
        labels.append(lab)
        n_images.append([len(m) for m in members])
        means.append([spherical_mean(m) for m in members])
        texts.append([", ".join(
            world.locations[k].name_en or world.locations[k].name or k for k in path[c])
            for c in cls])
    ancestors: list[dict[tuple[int, int], int | None]] = []
    for level, cls in enumerate(classes):
        anc: dict[tuple[int, int], int | None] = {}
        for coarse in range(level + 1, len(classes)):
            cindex = {k: i for i, k in enumerate(classes[coarse])}
            for i, c in enumerate(cls):
                anc[(i, coarse)] = next((cindex[q] for q in path[c] if q in cindex), None)
        ancestors.append(anc)
    return Reference(parent, dict(count), path, classes, labels, ancestors, n_images,
                     means, texts)


def spherical_mean(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Mean direction of unit vectors, back in degrees (independent of the SQL)."""
    x = sum(math.cos(math.radians(a)) * math.cos(math.radians(b)) for a, b in points)
    y = sum(math.cos(math.radians(a)) * math.sin(math.radians(b)) for a, b in points)
    z = sum(math.sin(math.radians(a)) for a, _ in points)
    return (math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x)))
