"""A hand-made OSM map with the address features the synthetic planet lacks, for tests.

House-number nodes and buildings along a street, an address interpolation line, a POI
node inside a numbered building, a lone POI, an unlinked hamlet node inside a city
boundary, a village node outside every boundary, all inside Germany (so Nominatim's
country grid assigns ``de``), and two clusters of dense place nodes (``DENSE_POINTS``)
where Nominatim's limit of 50 candidate place nodes decides the answer.
``write_address_map`` writes the OSM XML; ``sample_points`` gives a deterministic grid
over the features plus points around the place nodes.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

META = 'version="1" timestamp="2024-01-01T00:00:00Z"'


class _Map:
    def __init__(self) -> None:
        self.nodes: list[tuple[int, float, float, dict[str, str]]] = []
        self.ways: list[tuple[int, list[int], dict[str, str]]] = []
        self.relations: list[tuple[int, list[tuple[str, int, str]], dict[str, str]]] = []

    def node(self, lat: float, lon: float, **tags: str) -> int:
        self.nodes.append((len(self.nodes) + 1, lat, lon, tags))
        return len(self.nodes)

    def way(self, refs: list[int], **tags: str) -> int:
        self.ways.append((len(self.ways) + 1, refs, tags))
        return len(self.ways)

    def line(self, coords: list[tuple[float, float]], **tags: str) -> int:
        return self.way([self.node(lat, lon) for lat, lon in coords], **tags)

    def box(self, lat0: float, lon0: float, lat1: float, lon1: float, **tags: str) -> int:
        refs = [self.node(lat, lon) for lat, lon in
                ((lat0, lon0), (lat0, lon1), (lat1, lon1), (lat1, lon0))]
        return self.way(refs + refs[:1], **tags)

    def boundary(self, lat0: float, lon0: float, lat1: float, lon1: float, **tags: str) -> None:
        ring = self.box(lat0, lon0, lat1, lon1)
        self.relations.append((100 + len(self.relations), [("way", ring, "outer")],
                               {"type": "boundary", "boundary": "administrative", **tags}))

    def xml(self) -> str:
        def tag_lines(tags: dict[str, str]) -> str:
            return "".join(f"  <tag k={quoteattr(k)} v={quoteattr(v)}/>\n"
                           for k, v in sorted(tags.items()))
        out = ["<?xml version='1.0' encoding='UTF-8'?>\n", '<osm version="0.6">\n']
        for nid, lat, lon, tags in self.nodes:
            out.append(f' <node id="{nid}" {META} lat="{lat:.7f}" lon="{lon:.7f}">\n'
                       f"{tag_lines(tags)} </node>\n")
        for wid, refs, tags in self.ways:
            out.append(f' <way id="{wid}" {META}>\n'
                       + "".join(f'  <nd ref="{r}"/>\n' for r in refs)
                       + f"{tag_lines(tags)} </way>\n")
        for rid, members, tags in self.relations:
            out.append(f' <relation id="{rid}" {META}>\n'
                       + "".join(f'  <member type="{t}" ref="{r}" role="{role}"/>\n'
                                 for t, r, role in members)
                       + f"{tag_lines(tags)} </relation>\n")
        out.append("</osm>\n")
        return "".join(out)


def write_address_map(path: Path) -> Path:
    """Write the map as OSM XML to ``path``."""
    m = _Map()
    m.boundary(49.98, 9.98, 50.06, 10.08, admin_level="8", name="Testburg")
    m.boundary(50.02, 9.98, 50.06, 10.08, admin_level="10", name="Nordviertel")
    m.line([(50.0, 10.0), (50.0, 10.02)], highway="residential", name="Hauptstraße")
    m.line([(50.0, 10.02), (50.01, 10.03)], highway="tertiary", name="Bahnhofstraße")
    m.line([(50.03, 10.0), (50.03, 10.03)], highway="residential", name="Nordweg")
    for i in range(6):
        m.node(50.0002, 10.001 + 0.002 * i, **{"addr:housenumber": str(2 * i + 1),
                                              "addr:street": "Hauptstraße"})
    m.box(49.9996, 10.0100, 49.9998, 10.0103, building="yes",
          **{"addr:housenumber": "12", "addr:street": "Hauptstraße"})
    m.node(49.9997, 10.01015, amenity="cafe", name="Café Mitte")
    m.box(50.0053, 10.0262, 50.0056, 10.0266, building="yes",
          **{"addr:housenumber": "5", "addr:street": "Bahnhofstraße"})
    m.node(50.004, 10.005, amenity="restaurant", name="Ristorante")
    first = m.node(49.9994, 10.002, **{"addr:housenumber": "2", "addr:street": "Hauptstraße"})
    last = m.node(49.9994, 10.008, **{"addr:housenumber": "10", "addr:street": "Hauptstraße"})
    m.way([first, last], **{"addr:interpolation": "even"})
    m.node(50.05, 10.07, place="hamlet", name="Kleinhausen")
    m.node(50.2, 10.2, place="village", name="Weiler")
    m.boundary(50.38, 10.28, 50.46, 10.38, admin_level="8", name="Dichtstadt")
    for lat, lon in DENSE_POINTS:
        _dense_place_nodes(m, lat, lon)
    path.write_text(m.xml(), encoding="utf-8")
    return path


# Points with a hamlet 0.005° away (within its search radius of 0.02°) and 50 localities
# (a higher rank_search, 25 > 20) around them whose search boxes (0.02° squares) hold the
# point but which are farther than 0.02°. Nominatim takes the 50 highest-ranked place
# nodes by box, drops them all by distance and never sees the hamlet: the first point
# (outside every boundary) gets the country, the second the Dichtstadt boundary.
DENSE_POINTS = [(50.30, 10.30), (50.42, 10.33)]
DENSE_LOCALITIES = 50


def _dense_place_nodes(m: _Map, lat: float, lon: float) -> None:
    m.node(lat + 0.005, lon, place="hamlet", name=f"Nahdorf {lat:.2f}")
    for k in range(DENSE_LOCALITIES):
        slat, slon = ((1, 1), (1, -1), (-1, 1), (-1, -1))[k % 4]
        step = 0.0004 * (k // 4)
        m.node(lat + slat * (0.015 + step), lon + slon * (0.0195 - step),
               place="locality", name=f"Flur {k}")


# Far from every feature and boundary of the map, still in Germany: only the country answers.
COUNTRY_ONLY_POINTS = [(50.5, 9.5), (49.6, 10.6)]


def sample_points() -> list[tuple[float, float]]:
    """A grid over the streets and houses, and rings around the place nodes."""
    points = [(round(49.996 + 0.0005 * i, 6), round(9.999 + 0.0007 * j, 6))
              for i in range(30) for j in range(48)][::3]
    for lat, lon in ((50.05, 10.07), (50.2, 10.2), (50.03, 10.015)):
        for k in range(-6, 7):
            points.append((round(lat + 0.004 * k, 6), round(lon + 0.003 * k, 6)))
            points.append((round(lat - 0.004 * k, 6), round(lon + 0.005 * k, 6)))
    # inside the numbered building with the café, on the café, beside the interpolation
    points += [(49.99965, 10.0101), (49.9997, 10.01015), (49.99975, 10.01025),
               (49.9995, 10.004), (49.9993, 10.0061), (50.0054, 10.0264)]
    return points + COUNTRY_ONLY_POINTS
