"""Generating the synthetic planet: countries → states → counties → cities → districts →
streets and landmarks, written as an OSM extract plus inspection and ground-truth files.

The synthetic planet lets the whole pipeline (reverse geocoding, hierarchy, partitioning,
training, explanation) run offline and be checked against a known truth. Countries are real
ISO codes at their real places (shapes from Nominatim's country grid, see
:mod:`geotool.synth.country_grid`) so that Nominatim assigns the same country; everything below
is generated inside its parent from seeded points. Cities are small outlines around their
``place`` node, so most of a country is countryside and the OSM file stays small.

Output directory (a binding contract with the photos generator and the tests):
``world.osm`` (OSM XML), ``boundaries.geojson`` (areas), ``features.geojson`` (streets and
landmarks), ``world.json`` (all places; read back with :func:`load_world`).

Decisions worth knowing:

* A landmark's ``parent`` is the street it stands beside (and that street's parent is the
  district), because that is what Nominatim reports: a POI's address starts with its nearest
  street. The generator guarantees that street is the nearest one to the landmark.
* Country outlines are the grid's mainland shrunk by the simplification tolerance and then
  simplified, so they lie inside the grid and Nominatim's country lookup agrees with ours.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely import LineString, MultiPolygon, Point, Polygon, STRtree
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from geotool.progress import NO_PROGRESS, Progress
from geotool.synth import country_grid
from geotool.synth.errors import SynthError
from geotool.synth.names import Language, NameMaker
from geotool.synth.osm_xml import OsmBuilder
from geotool.synth.places import (
    AREA_KINDS,
    BOUNDARIES_GEOJSON,
    FEATURES_GEOJSON,
    WORLD_JSON,
    WORLD_OSM,
    Place,
    World,
    load_world,
)
from geotool.synth.shapes import (
    as_area,
    blob,
    building_beside,
    degrees,
    polygons_of,
    random_point_in,
    split_area,
    street_line,
)

__all__ = ["GENERATOR_VERSION", "Place", "World", "WorldSize", "generate_world", "load_world",
           "select_countries"]

GENERATOR_VERSION = "1"
# Countries of this size (km²) whose mainland holds most of the area are preferred.
PREFERRED_AREA_KM2 = (40_000.0, 1_500_000.0)
PREFERRED_MAINLAND_SHARE = 0.9
ADMIN_LEVELS = {"country": 2, "state": 4, "county": 6, "city": 8, "district": 10}
# Nominatim's import style keeps one main tag per object; ``building``, ``historic`` and
# ``tourism=attraction`` are all "fallback" tags, and between two fallbacks the winner depends
# on Lua's table order, which changes from import to import. So a landmark never carries two
# fallback tags: attractions and monuments get no ``building`` tag (a closed way is an area
# anyway); towers, churches and museums keep one, which their "always" main tag outranks.
LANDMARK_TAGS: dict[str, dict[str, str]] = {
    "tower": {"building": "tower", "man_made": "tower", "tower:type": "observation"},
    "museum": {"building": "yes", "tourism": "museum"},
    "church": {"building": "church", "amenity": "place_of_worship", "religion": "christian"},
    "building": {"tourism": "attraction"},
    "monument": {"historic": "monument"},
}
LANDMARK_TYPES = tuple(LANDMARK_TAGS)


@dataclass(frozen=True)
class WorldSize:
    """How many children each level gets; ``scaled`` multiplies the counts by a factor."""

    states: int = 3
    counties: int = 2
    settlements: int = 2  # per county: the first is a city, the others towns
    city_districts: int = 3
    town_districts: int = 2
    streets: int = 2  # per district
    landmarks: int = 2  # per district

    @classmethod
    def scaled(cls, scale: float) -> WorldSize:
        """Counts multiplied by ``scale`` (at least one of each)."""
        if not math.isfinite(scale) or scale <= 0:
            raise SynthError(f"scale must be a positive number, got {scale}")
        base = cls()
        return cls(*(max(1, round(getattr(base, name) * scale))
                     for name in cls.__dataclass_fields__))


def select_countries(seed: int, count: int,
                     codes: list[str] | None = None) -> list[str]:
    """The ISO codes of the world's countries, sorted.

    With ``codes`` those (validated against the grid); otherwise ``count`` codes drawn with the
    seed, preferring mid-sized land countries: a mainland that holds most of the area and
    borders another country (the grid also covers territorial waters, so island states would
    otherwise look mid-sized).
    """
    grid = country_grid.load_grid()
    if codes:
        chosen = sorted({country_grid.grid_country(code).code for code in codes})
        if count and count != len(chosen):
            raise SynthError(f"--countries {count} disagrees with the {len(chosen)} country "
                             f"codes given ({', '.join(chosen)}); give one or the other")
        return chosen
    if count <= 0:
        raise SynthError(f"a world needs at least one country, got {count}")
    if count > len(grid):
        raise SynthError(f"asked for {count} countries but Nominatim's country grid holds only "
                         f"{len(grid)}; ask for at most {len(grid)}")
    rng = random.Random(f"countries:{seed}")
    low, high = PREFERRED_AREA_KM2
    sized = sorted(code for code, c in grid.items() if low <= c.area_km2 <= high)
    others = sorted(code for code in grid if code not in sized)
    rng.shuffle(sized)
    rng.shuffle(others)
    preferred = []
    for code in sized:
        if (country_grid.mainland_share(code) >= PREFERRED_MAINLAND_SHARE
                and country_grid.neighbours(code)):
            preferred.append(code)
            if len(preferred) == count:
                break
    fallback = [code for code in sized + others if code not in preferred]
    return sorted((preferred + fallback)[:count])


def country_outline(code: str) -> Polygon | MultiPolygon:
    """The synthetic country's outline: the grid mainland, shrunk and simplified inside it."""
    mainland = country_grid.main_part(code)
    tolerance = min(0.05, math.sqrt(mainland.area) / 60)
    # Pre-simplifying (deviation ≤ tol/5) makes the buffer fast; shrinking by 1.3·tol then
    # keeps the final outline (deviation ≤ tol) at least 0.1·tol inside the grid.
    rough = mainland.simplify(tolerance / 5, preserve_topology=True)
    shrunk = as_area(rough.buffer(-1.3 * tolerance, quad_segs=2))
    largest = max(polygons_of(shrunk), key=lambda part: part.area)
    return as_area(_round(largest.simplify(tolerance, preserve_topology=True)))


def _round(geometry: BaseGeometry) -> Any:
    """Coordinates rounded to the 7 decimals written to OSM XML and GeoJSON."""
    return shapely.transform(geometry, lambda coords: np.round(coords, 7))


def _round_area(geometry: BaseGeometry) -> Polygon | MultiPolygon:
    return as_area(_round(geometry))


class _Generator:
    """Holds the state of one generation run (random stream, names, OSM ids, places)."""

    def __init__(self, seed: int, size: WorldSize) -> None:
        self.rng = random.Random(seed)
        self.names = NameMaker(random.Random(f"names:{seed}"))
        self.size = size
        self.osm = OsmBuilder()
        self.places: list[Place] = []
        self.geometries: dict[str, BaseGeometry] = {}

    def _add(self, place: Place, geometry: BaseGeometry) -> Place:
        self.places.append(place)
        self.geometries[place.key] = geometry
        return place

    def area(self, kind: str, geometry: Polygon | MultiPolygon, parent: Place | None,
             country_code: str, *, name: tuple[str, str] | None = None,
             label: Point | None = None, population: int | None = None,
             popularity: float | None = None, extra_tags: dict[str, str] | None = None) -> Place:
        local, english = name or self.names.area()
        admin_level = ADMIN_LEVELS[kind]
        point = label or geometry.representative_point()
        point = Point(round(point.x, 7), round(point.y, 7))
        label_node = None
        if kind in ("city", "district"):
            place_tags = {"place": "suburb" if kind == "district" else
                          ("city" if population and population >= 100_000 else "town"),
                          "name": local, "name:en": english}
            if population is not None:
                place_tags["population"] = str(population)
            label_node = self.osm.add_node(point.x, point.y, place_tags)
        tags = {"boundary": "administrative", "admin_level": str(admin_level),
                "name": local, "name:en": english, **(extra_tags or {})}
        relation_id = self.osm.add_boundary(geometry, tags, label_node)
        return self._add(Place(
            key=f"R{relation_id}", osm_type="R", osm_id=relation_id, kind=kind,
            admin_level=admin_level, name=local, name_en=english,
            parent=None if parent is None else parent.key, country_code=country_code,
            lat=point.y, lon=point.x, population=population, popularity=popularity,
            landmark_type=None), geometry)

    def feature(self, kind: str, geometry: LineString | Polygon, parent: Place,
                name: tuple[str, str], tags: dict[str, str], *,
                popularity: float | None = None, landmark_type: str | None = None) -> Place:
        way_id = self.osm.add_line(geometry, {"name": name[0], "name:en": name[1], **tags})
        point = (geometry.interpolate(0.5, normalized=True) if kind == "street"
                 else geometry.centroid)
        return self._add(Place(
            key=f"W{way_id}", osm_type="W", osm_id=way_id, kind=kind, admin_level=None,
            name=name[0], name_en=name[1], parent=parent.key,
            country_code=parent.country_code, lat=round(point.y, 7), lon=round(point.x, 7),
            population=None, popularity=popularity, landmark_type=landmark_type), geometry)

    # -- levels ---------------------------------------------------------------------------

    def country(self, code: str) -> None:
        outline = country_outline(code)
        language = self.names.language()
        iso = code.upper()
        country = self.area("country", outline, None, code, extra_tags={
            "ISO3166-1": iso, "ISO3166-1:alpha2": iso, "country_code": code})
        for state_shape in split_area(outline, self.size.states, self.rng):
            state = self.area("state", _round_area(state_shape), country, code)
            for county_shape in split_area(self.geometries[state.key], self.size.counties,
                                           self.rng):
                county = self.area("county", _round_area(county_shape), state, code)
                self.settlements(county, language)

    def settlements(self, county: Place, language: Language) -> None:
        county_shape = self.geometries[county.key]
        placed: list[Polygon] = []
        for index in range(self.size.settlements):
            is_city = index == 0
            population = (int(self.rng.lognormvariate(math.log(300_000), 0.8)) + 100_000
                          if is_city else int(self.rng.lognormvariate(math.log(20_000), 0.7)))
            radius_m = 2_500 + 1.2 * math.sqrt(population) if is_city else 1_800.0
            outline = self._place_outline(county_shape, placed, radius_m)
            if outline is None:
                continue
            center, shape = outline
            placed.append(shape)
            popularity = round(self.rng.paretovariate(1.16) * (population / 50_000) ** 0.5, 6)
            city = self.area("city", shape, county, county.country_code, label=center,
                             population=population, popularity=popularity)
            districts = self.size.city_districts if is_city else self.size.town_districts
            district_shapes = split_area(shape, districts, self.rng, min_share=0.4)
            district_places = [self.area("district", _round_area(piece), city,
                                         county.country_code)
                               for piece in district_shapes]
            self.city_content(district_places, language)

    def _place_outline(self, county_shape: BaseGeometry, placed: list[Polygon],
                       radius_m: float) -> tuple[Point, Polygon] | None:
        margin = degrees(radius_m * 1.2)
        inner = county_shape.buffer(-margin, quad_segs=2)
        for _ in range(40):
            if inner.is_empty:
                radius_m *= 0.7
                margin = degrees(radius_m * 1.2)
                inner = county_shape.buffer(-margin, quad_segs=2)
                continue
            center = random_point_in(inner, self.rng, tries=200)
            if center is None:
                return None
            center = Point(round(center.x, 7), round(center.y, 7))
            shape = _round_area(blob(center, radius_m, self.rng))
            if not isinstance(shape, Polygon) or not county_shape.contains(shape):
                continue
            if any(shape.distance(other) < 0.03 for other in placed):
                continue
            return center, shape
        return None

    def city_content(self, districts: list[Place], language: Language) -> None:
        """Streets and landmarks in every district of one city."""
        streets: list[tuple[Place, LineString]] = []
        for district in districts:
            inner = self.geometries[district.key].buffer(-degrees(60), quad_segs=2)
            for _ in range(self.size.streets):
                line = street_line(inner, self.rng, self.rng.uniform(400, 900))
                if line is None:
                    continue
                line = _round(line)
                highway = "primary" if self.rng.random() < 0.25 else "residential"
                street = self.feature("street", line, district,
                                      self.names.street(language), {"highway": highway})
                streets.append((street, line))
        if not streets:
            return
        tree = STRtree([line for _, line in streets])
        landmarks: list[Polygon] = []
        for district in districts:
            own = [(place, line) for place, line in streets if place.parent == district.key]
            inside = self.geometries[district.key].buffer(-degrees(15), quad_segs=2)
            for _ in range(self.size.landmarks if own else 0):
                self._landmark(own, streets, tree, inside, landmarks, language)

    def _landmark(self, own: list[tuple[Place, LineString]],
                  streets: list[tuple[Place, LineString]], tree: STRtree,
                  inside: BaseGeometry, landmarks: list[Polygon], language: Language) -> None:
        landmark_type = self.rng.choice(LANDMARK_TYPES)
        for _ in range(30):
            street, line = self.rng.choice(own)
            building = _round(building_beside(line, self.rng, self.rng.uniform(35, 60),
                                              self.rng.uniform(25, 60)))
            if not inside.contains(building):
                continue
            centre = building.centroid
            own_distance = line.distance(centre)
            nearby = tree.query(building, predicate="dwithin", distance=own_distance + 0.001)
            if any(streets[int(i)][1].intersects(building) or
                   (streets[int(i)][0].key != street.key and
                    streets[int(i)][1].distance(centre) < own_distance + degrees(20))
                   for i in nearby):
                continue
            if any(building.distance(other) < degrees(10) for other in landmarks):
                continue
            landmarks.append(building)
            popularity = round(self.rng.paretovariate(1.16), 6)
            self.feature("landmark", building, street,
                         self.names.landmark(language, landmark_type),
                         LANDMARK_TAGS[landmark_type], popularity=popularity,
                         landmark_type=landmark_type)
            return


def parse_country_codes(text: str | None) -> list[str] | None:
    """``--country-codes de,fr``: the ISO codes given, or None when there are none (then
    the countries are drawn with the seed)."""
    codes = [c.strip() for c in (text or "").split(",") if c.strip()]
    return codes or None


def generate_world(seed: int, countries: int, out_dir: Path | str, *,
                   country_codes: list[str] | None = None, scale: float = 1.0,
                   size: WorldSize | None = None,
                   progress: Progress = NO_PROGRESS) -> World:
    """Generate a synthetic world and write it to ``out_dir``; the same seed gives the same bytes.

    ``countries`` ISO countries are drawn with the seed (or ``country_codes`` are used);
    ``scale`` multiplies the number of children per level (or pass an explicit ``size``).
    ``progress`` gets the phase "generating countries", advanced by countries.
    Invalid requests raise :class:`SynthError`.
    """
    codes = select_countries(seed, countries, country_codes)
    generator = _Generator(seed, size or WorldSize.scaled(scale))
    progress.phase("generating countries", len(codes))
    for code in codes:
        generator.country(code)
        progress.advance(1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    generator.osm.write(out / WORLD_OSM)
    places, geometries = generator.places, generator.geometries
    _write_geojson(out / BOUNDARIES_GEOJSON, places, geometries, AREA_KINDS)
    _write_geojson(out / FEATURES_GEOJSON, places, geometries, ("street", "landmark"))
    document = {"seed": seed, "n_countries": len(codes), "generator_version": GENERATOR_VERSION,
                "country_codes": codes, "places": [place.to_json() for place in places]}
    (out / WORLD_JSON).write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n",
                                  encoding="utf-8")
    return World(places, seed=seed, directory=out, geometries=geometries)


def _write_geojson(path: Path, places: list[Place], geometries: dict[str, BaseGeometry],
                   kinds: tuple[str, ...]) -> None:
    features = []
    for place in places:
        if place.kind not in kinds:
            continue
        properties: dict[str, Any] = {
            "key": place.key, "kind": place.kind, "admin_level": place.admin_level,
            "name": place.name, "name_en": place.name_en, "parent": place.parent,
            "country_code": place.country_code}
        if place.kind == "landmark":
            properties["landmark_type"] = place.landmark_type
        features.append({"type": "Feature", "properties": properties,
                         "geometry": mapping(geometries[place.key])})
    collection = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n",
                    encoding="utf-8")
