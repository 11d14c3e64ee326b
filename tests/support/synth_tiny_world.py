"""A hand-made four-country world in the ``geotool synth world`` directory format, for tests.

Countries are 20°×20° squares in a 2×2 grid (|lat| 0..40), each split into two states; each
state has one square city with a popularity and one landmark polygon in the city. Building
the world by hand keeps the photo tests independent of the world generator's speed and choices.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shapely.geometry import box, mapping

TYPES = ("tower", "church", "museum", "monument")


def _place(key: str, kind: str, level: int | None, parent: str | None, cc: str, lat: float,
           lon: float, popularity: float | None = None, landmark_type: str | None = None
           ) -> dict[str, Any]:
    return {"key": key, "osm_type": key[0], "osm_id": int(key[1:]), "kind": kind,
            "admin_level": level, "name": key, "name_en": key, "parent": parent,
            "country_code": cc, "lat": lat, "lon": lon, "population": 1000,
            "popularity": popularity, "landmark_type": landmark_type}


def write_tiny_world(directory: Path, seed: int = 7) -> Path:
    """Write world.json, boundaries.geojson and features.geojson; return the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    places: list[dict[str, Any]] = []
    areas: list[tuple[str, str, int, Any]] = []
    features: list[tuple[str, Any]] = []
    for ci in range(4):
        cc = "xabcd"[ci + 1] + "x"
        lat0, lon0 = 20.0 * (ci // 2), 20.0 * (ci % 2)
        ckey = f"R{1000 + ci}"
        places.append(_place(ckey, "country", 2, None, cc, lat0 + 10, lon0 + 10))
        areas.append((ckey, "country", 2, box(lon0, lat0, lon0 + 20, lat0 + 20)))
        for si in range(2):
            skey = f"R{2000 + 10 * ci + si}"
            slat0 = lat0 + 10.0 * si
            places.append(_place(skey, "state", 4, ckey, cc, slat0 + 5, lon0 + 10))
            areas.append((skey, "state", 4, box(lon0, slat0, lon0 + 20, slat0 + 10)))
            city_lat, city_lon = slat0 + 5.0, lon0 + 10.0
            tkey = f"R{3000 + 10 * ci + si}"
            places.append(_place(tkey, "city", 8, skey, cc, city_lat, city_lon,
                                 popularity=float(1 + 3 * ci + si)))
            areas.append((tkey, "city", 8, box(city_lon - 0.5, city_lat - 0.5, city_lon + 0.5,
                                               city_lat + 0.5)))
            lkey = f"W{4000 + 10 * ci + si}"
            lat, lon = city_lat + 0.2, city_lon + 0.2
            places.append(_place(lkey, "landmark", None, tkey, cc, lat, lon,
                                 popularity=float(2 + ci), landmark_type=TYPES[ci]))
            features.append((lkey, box(lon - 0.0005, lat - 0.0005, lon + 0.0005, lat + 0.0005)))
    world = {"seed": seed, "n_countries": 4, "generator_version": "tests-tiny-1",
             "places": places}
    (directory / "world.json").write_text(json.dumps(world), encoding="utf-8")
    by_key = {p["key"]: p for p in places}
    boundaries = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": mapping(geom),
         "properties": {"key": key, "kind": kind, "admin_level": level,
                        "name": key, "name_en": key, "parent": by_key[key]["parent"],
                        "country_code": by_key[key]["country_code"]}}
        for key, kind, level, geom in areas]}
    (directory / "boundaries.geojson").write_text(json.dumps(boundaries), encoding="utf-8")
    feats = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": mapping(geom),
         "properties": {"key": key, "kind": by_key[key]["kind"]}} for key, geom in features]}
    (directory / "features.geojson").write_text(json.dumps(feats), encoding="utf-8")
    return directory
