"""The synthetic world as data: places, their hierarchy and geometry, read back from disk.

``generate_world`` writes a world directory; everything downstream (the photos generator,
the Nominatim comparison tests, the demo) reads it with :func:`load_world`. :meth:`World.locate`
is the generator's own ground truth for a coordinate: it mirrors the rules Nominatim's reverse
geocoder applies at zoom 18 (nearest street or landmark within 0.007°, otherwise the smallest
containing area, then that object's ancestors), so a Nominatim answer can be checked against it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from shapely import Point, STRtree
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geotool.synth.errors import SynthError

WORLD_JSON = "world.json"
BOUNDARIES_GEOJSON = "boundaries.geojson"
FEATURES_GEOJSON = "features.geojson"
WORLD_OSM = "world.osm"

AREA_KINDS = ("country", "state", "county", "city", "district")
FEATURE_KINDS = ("street", "landmark")
KINDS = AREA_KINDS + FEATURE_KINDS

# Nominatim's reverse lookup (nominatim_api/reverse.py, lookup_street_poi) searches streets and
# POIs within 0.006° plus a fuzziness of 0.001°, in planar degrees, and keeps the closest one.
REVERSE_STREET_RADIUS_DEG = 0.007


@dataclass(frozen=True)
class Place:
    """One place of the synthetic world, as stored in ``world.json``."""

    key: str
    osm_type: str
    osm_id: int
    kind: str
    admin_level: int | None
    name: str
    name_en: str
    parent: str | None
    country_code: str
    lat: float
    lon: float
    population: int | None
    popularity: float | None
    landmark_type: str | None

    def to_json(self) -> dict[str, Any]:
        """The place as a ``world.json`` record (fixed key order)."""
        return {
            "key": self.key, "osm_type": self.osm_type, "osm_id": self.osm_id,
            "kind": self.kind, "admin_level": self.admin_level, "name": self.name,
            "name_en": self.name_en, "parent": self.parent, "country_code": self.country_code,
            "lat": self.lat, "lon": self.lon, "population": self.population,
            "popularity": self.popularity, "landmark_type": self.landmark_type,
        }

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Place:
        """A place from a ``world.json`` record."""
        return cls(**{name: record[name] for name in cls.__dataclass_fields__})


class World:
    """A synthetic world: places with a parent hierarchy and geometries.

    ``geometries`` maps a key to its shapely geometry; when it is not given the geometries are
    read lazily from ``directory``.
    """

    def __init__(self, places: list[Place], *, seed: int, directory: Path | None = None,
                 geometries: dict[str, BaseGeometry] | None = None) -> None:
        self.places = places
        self.seed = seed
        self.directory = directory
        self._by_key = {place.key: place for place in places}
        self._children: dict[str | None, list[Place]] = {}
        for place in places:
            self._children.setdefault(place.parent, []).append(place)
        self._geometries = geometries

    def place(self, key: str) -> Place:
        """The place with this key (e.g. ``"R1000001"``); :class:`SynthError` when unknown."""
        try:
            return self._by_key[key]
        except KeyError:
            raise SynthError(f"no place with key {key!r} in this world") from None

    def children(self, key: str | None) -> list[Place]:
        """Direct children of ``key`` in generation order (``None``: the countries)."""
        return list(self._children.get(key, []))

    def path(self, key: str) -> list[Place]:
        """The place and its ancestors, finest first, ending with the country."""
        chain = [self.place(key)]
        while chain[-1].parent is not None:
            chain.append(self.place(chain[-1].parent))
        return chain

    def of_kind(self, kind: str) -> list[Place]:
        """All places of one kind (country, state, county, city, district, street, landmark)."""
        return [place for place in self.places if place.kind == kind]

    @property
    def geometries(self) -> dict[str, BaseGeometry]:
        """Every place's geometry keyed by place key."""
        if self._geometries is None:
            if self.directory is None:
                raise SynthError("this world has neither geometries nor a directory to read")
            self._geometries = {}
            for name in (BOUNDARIES_GEOJSON, FEATURES_GEOJSON):
                self._geometries.update(read_geojson_geometries(self.directory / name))
        return self._geometries

    def geometry(self, key: str) -> BaseGeometry:
        """A place's geometry: polygons for areas and landmarks, lines for streets."""
        self.place(key)
        return self.geometries[key]

    @cached_property
    def _feature_index(self) -> tuple[list[Place], STRtree]:
        features = [p for p in self.places if p.kind in FEATURE_KINDS]
        return features, STRtree([self.geometry(p.key) for p in features])

    @cached_property
    def _area_index(self) -> tuple[list[Place], STRtree]:
        areas = [p for p in self.places if p.kind in AREA_KINDS]
        return areas, STRtree([self.geometry(p.key) for p in areas])

    def nearest_feature(self, lat: float, lon: float,
                        radius_deg: float = REVERSE_STREET_RADIUS_DEG) -> Place | None:
        """The street or landmark closest to the point (planar degrees) within ``radius_deg``."""
        point = Point(lon, lat)
        features, tree = self._feature_index
        best: tuple[float, str] | None = None
        for index in tree.query(point, predicate="dwithin", distance=radius_deg):
            place = features[int(index)]
            geometry = self.geometry(place.key)
            if place.kind == "landmark" and geometry.centroid.distance(point) >= radius_deg:
                continue
            candidate = (float(geometry.distance(point)), place.key)
            if best is None or candidate < best:
                best = candidate
        return None if best is None else self.place(best[1])

    def containing_area(self, lat: float, lon: float) -> Place | None:
        """The finest area (district, city, county, state, country) containing the point."""
        point = Point(lon, lat)
        areas, tree = self._area_index
        found = [areas[int(i)] for i in tree.query(point, predicate="intersects")]
        if not found:
            return None
        return max(found, key=lambda place: (KINDS.index(place.kind), place.key))

    def locate(self, lat: float, lon: float) -> list[Place]:
        """The expected reverse-geocoding hierarchy of a coordinate, finest first.

        The nearest street or landmark within 0.007° (Nominatim's zoom-18 search radius) and
        its ancestors; otherwise the finest containing area and its ancestors; an empty list
        outside every country of the world.
        """
        feature = self.nearest_feature(lat, lon)
        if feature is not None:
            return self.path(feature.key)
        area = self.containing_area(lat, lon)
        return [] if area is None else self.path(area.key)


def read_geojson_geometries(path: Path) -> dict[str, BaseGeometry]:
    """``{key: geometry}`` from a GeoJSON FeatureCollection whose features carry ``key``."""
    if not path.is_file():
        raise SynthError(f"world file missing: {path}; regenerate the world with "
                         "'geotool synth world'")
    collection = json.loads(path.read_text(encoding="utf-8"))
    return {feature["properties"]["key"]: shape(feature["geometry"])
            for feature in collection["features"]}


def load_world(directory: Path | str) -> World:
    """Read a world directory written by ``generate_world``."""
    directory = Path(directory)
    path = directory / WORLD_JSON
    if not path.is_file():
        raise SynthError(f"{directory} is not a synthetic world directory: {WORLD_JSON} is "
                         "missing; create one with 'geotool synth world --out DIR'")
    data = json.loads(path.read_text(encoding="utf-8"))
    places = [Place.from_json(record) for record in data["places"]]
    return World(places, seed=int(data["seed"]), directory=directory)


def world_matches(directory: Path | str, seed: int, countries: int) -> bool:
    """Whether ``directory`` holds a complete world of this ``seed`` and number of
    ``countries`` (its ``world.json`` is written last, so a world cut short has none)."""
    meta = Path(directory) / WORLD_JSON
    if not meta.is_file():
        return False
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(data.get("seed") == seed and data.get("n_countries") == countries)
