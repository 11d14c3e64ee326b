"""Writing the synthetic world as an OSM XML file that ``nominatim import`` accepts.

osm2pgsql wants nodes, then ways, then relations, each sorted by id; Nominatim wants
administrative areas as ``type=boundary`` relations made of closed member ways, and links a
``place=*`` node to its boundary when the node is the relation's ``label`` member. Ids are
allocated in creation order, so the file is deterministic for a deterministic caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

from shapely import LineString, MultiPolygon, Polygon

MAX_WAY_NODES = 1900  # OSM's API limit is 2000 nodes per way
FIRST_RELATION_ID = 1_000_001


@dataclass
class _Way:
    way_id: int
    nodes: list[int]
    tags: dict[str, str]


@dataclass
class _Relation:
    relation_id: int
    members: list[tuple[str, int, str]]
    tags: dict[str, str]


@dataclass
class OsmBuilder:
    """Collects OSM objects with fresh positive ids and writes them as OSM XML."""

    timestamp: str = "2024-01-01T00:00:00Z"
    nodes: list[tuple[int, float, float, dict[str, str]]] = field(default_factory=list)
    ways: list[_Way] = field(default_factory=list)
    relations: list[_Relation] = field(default_factory=list)

    _by_position: dict[str, int] = field(default_factory=dict)

    def add_node(self, lon: float, lat: float, tags: dict[str, str] | None = None) -> int:
        """A node at (lon, lat); returns its id.

        Untagged nodes at the same (7-decimal) position are shared, so neighbouring areas
        share their border nodes as in real OSM data and the file stays small.
        """
        position = f"{lat:.7f} {lon:.7f}"
        if not tags and position in self._by_position:
            return self._by_position[position]
        node_id = len(self.nodes) + 1
        self.nodes.append((node_id, lon, lat, dict(tags or {})))
        if not tags:
            self._by_position[position] = node_id
        return node_id

    def _node_ids(self, coords: Sequence[tuple[float, float]]) -> list[int]:
        node_ids: list[int] = []
        for x, y in coords:
            node_id = self.add_node(x, y)
            if not node_ids or node_ids[-1] != node_id:
                node_ids.append(node_id)
        return node_ids

    def _add_way(self, node_ids: list[int], tags: dict[str, str]) -> int:
        way_id = len(self.ways) + 1
        self.ways.append(_Way(way_id, node_ids, dict(tags)))
        return way_id

    def add_line(self, line: LineString | Polygon, tags: dict[str, str]) -> int:
        """A way along a line, or a closed way around a polygon's exterior; returns its id."""
        if isinstance(line, Polygon):
            node_ids = self._node_ids(list(line.exterior.coords)[:-1])
            node_ids.append(node_ids[0])
        else:
            node_ids = self._node_ids(list(line.coords))
        return self._add_way(node_ids, tags)

    def _ring_ways(self, coords: Sequence[tuple[float, float]]) -> list[int]:
        node_ids = self._node_ids(list(coords)[:-1])
        node_ids.append(node_ids[0])
        way_ids = []
        for start in range(0, len(node_ids) - 1, MAX_WAY_NODES - 1):
            way_ids.append(self._add_way(node_ids[start:start + MAX_WAY_NODES], {}))
        return way_ids

    def add_boundary(self, area: Polygon | MultiPolygon, tags: dict[str, str],
                     label_node: int | None = None) -> int:
        """A ``type=boundary`` relation with outer/inner ways (and a label node); its id."""
        members: list[tuple[str, int, str]] = []
        polygons = list(area.geoms) if isinstance(area, MultiPolygon) else [area]
        for polygon in polygons:
            members += [("way", w, "outer") for w in self._ring_ways(polygon.exterior.coords)]
            for ring in polygon.interiors:
                members += [("way", w, "inner") for w in self._ring_ways(ring.coords)]
        if label_node is not None:
            members.append(("node", label_node, "label"))
        relation_id = FIRST_RELATION_ID + len(self.relations)
        self.relations.append(_Relation(relation_id, members, {"type": "boundary", **tags}))
        return relation_id

    def write(self, path: Path) -> None:
        """Write everything to ``path`` as OSM XML (UTF-8)."""
        with path.open("w", encoding="utf-8", newline="\n") as out:
            out.writelines(self._lines())

    def _lines(self) -> Iterable[str]:
        meta = f'version="1" timestamp="{self.timestamp}"'
        lons = [lon for _, lon, _, _ in self.nodes] or [0.0]
        lats = [lat for _, _, lat, _ in self.nodes] or [0.0]
        yield "<?xml version='1.0' encoding='UTF-8'?>\n"
        yield (f'<osm version="0.6" generator="geotool-synth" timestamp="{self.timestamp}" '
               f'osmosis_replication_timestamp="{self.timestamp}">\n')
        yield (f' <bounds minlat="{min(lats):.7f}" minlon="{min(lons):.7f}" '
               f'maxlat="{max(lats):.7f}" maxlon="{max(lons):.7f}"/>\n')
        for node_id, lon, lat, tags in self.nodes:
            head = f' <node id="{node_id}" {meta} lat="{lat:.7f}" lon="{lon:.7f}"'
            if not tags:
                yield head + "/>\n"
            else:
                yield head + ">\n" + "".join(_tag_lines(tags)) + " </node>\n"
        for way in self.ways:
            yield f' <way id="{way.way_id}" {meta}>\n'
            yield "".join(f'  <nd ref="{ref}"/>\n' for ref in way.nodes)
            yield "".join(_tag_lines(way.tags)) + " </way>\n"
        for relation in self.relations:
            yield f' <relation id="{relation.relation_id}" {meta}>\n'
            yield "".join(f'  <member type="{kind}" ref="{ref}" role="{role}"/>\n'
                          for kind, ref, role in relation.members)
            yield "".join(_tag_lines(relation.tags)) + " </relation>\n"
        yield "</osm>\n"


def _tag_lines(tags: dict[str, str]) -> Iterable[str]:
    for key in sorted(tags):
        yield f"  <tag k={quoteattr(key)} v={quoteattr(tags[key])}/>\n"
