"""Where synthetic photos are taken: photographers around popular places, a few in the country.

Real photo collections (Flickr, MP-16) are dominated by a few famous cities and landmarks and
come in bursts: one author takes several photos near the same spot. We mimic that: each
*photographer* (the cluster used for leakage-free splits) picks a home anchor (a landmark or a
city, with probability proportional to the world's heavy-tailed ``popularity``, or a random
rural point of a country, proportional to country area) and takes a geometric number of photos
scattered around it. Points that fall outside every country (at sea) are redrawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geotool.synth.errors import SynthError
from geotool.synth.places import Place, World

# scatter (standard deviation, degrees) of a photographer's photos around the anchor
LANDMARK_SIGMA_DEG = 0.0015
RURAL_SIGMA_DEG = 0.01
MAX_BURST = 25


@dataclass(frozen=True)
class PhotoSite:
    """Where one photo was taken, by whom, and near what."""

    lat: float
    lon: float
    cluster: str  # the photographer, e.g. "a00042"
    anchor: str  # key of the landmark/city it was taken near, or the country for rural photos
    scene: str  # "landmark", "city" or "rural"


def _weight(place: Place) -> float:
    if place.popularity is not None and place.popularity > 0:
        return float(place.popularity)
    if place.population:
        return float(place.population)
    return 1.0


class SiteSampler:
    """Draws photographers and their photo coordinates from one world."""

    def __init__(
        self,
        world: World,
        *,
        landmark_share: float = 0.3,
        rural_share: float = 0.2,
        mean_burst: float = 4.0,
    ) -> None:
        if min(landmark_share, rural_share) < 0 or landmark_share + rural_share > 1:
            raise SynthError(
                f"landmark_share={landmark_share} and rural_share={rural_share} must be "
                "non-negative shares that sum to at most 1"
            )
        if mean_burst < 1:
            raise SynthError(f"mean_burst={mean_burst} must be at least 1 photo per photographer")
        self.world = world
        self.countries = world.of_kind("country")
        if not self.countries:
            raise SynthError("the world has no countries; regenerate it with 'geotool synth world'")
        self.cities = world.of_kind("city")
        self.landmarks = world.of_kind("landmark")
        geoms = [world.geometry(c.key) for c in self.countries]
        self.land: BaseGeometry = shapely.union_all(geoms)
        shapely.prepare(self.land)
        self.country_geoms = geoms
        areas = np.array([g.area for g in geoms])
        self.country_p = areas / areas.sum()
        shares = np.array([landmark_share, 1.0 - landmark_share - rural_share, rural_share])
        if not self.landmarks:
            shares[0] = 0.0
        if not self.cities:
            shares[1] = 0.0
        if shares.sum() == 0:
            shares[2] = 1.0
        self.scene_p = shares / shares.sum()
        self.p_landmark = self._popularity(self.landmarks)
        self.p_city = self._popularity(self.cities)
        self.city_sigma = {c.key: self._city_sigma(c) for c in self.cities}
        self.burst_p = 1.0 / mean_burst

    @staticmethod
    def _popularity(places: list[Place]) -> np.ndarray:
        w = np.array([_weight(p) for p in places], dtype=np.float64)
        return w / w.sum() if len(w) else w

    def _city_sigma(self, city: Place) -> float:
        try:
            area = float(self.world.geometry(city.key).area)
        except KeyError:
            area = 0.0
        return max(0.25 * math.sqrt(area), 0.003) if area > 0 else 0.01

    def _random_land_point(self, rng: np.random.Generator) -> tuple[float, float, str]:
        index = int(rng.choice(len(self.countries), p=self.country_p))
        geom = self.country_geoms[index]
        minx, miny, maxx, maxy = geom.bounds
        for _ in range(50):
            xs = rng.uniform(minx, maxx, 64)
            ys = rng.uniform(miny, maxy, 64)
            inside = shapely.contains_xy(geom, xs, ys)
            if inside.any():
                j = int(np.argmax(inside))
                return float(ys[j]), float(xs[j]), self.countries[index].key
        point = geom.representative_point()
        return float(point.y), float(point.x), self.countries[index].key

    def sample(self, n: int, rng: np.random.Generator) -> list[PhotoSite]:
        """``n`` photo sites, photographer by photographer (deterministic for a generator)."""
        sites: list[PhotoSite] = []
        author = 0
        while len(sites) < n:
            cluster = f"a{author:06d}"
            author += 1
            burst = min(int(rng.geometric(self.burst_p)), MAX_BURST, n - len(sites))
            scene = ("landmark", "city", "rural")[int(rng.choice(3, p=self.scene_p))]
            if scene == "landmark":
                anchor = self.landmarks[int(rng.choice(len(self.landmarks), p=self.p_landmark))]
                lat0, lon0, key, sigma = anchor.lat, anchor.lon, anchor.key, LANDMARK_SIGMA_DEG
            elif scene == "city":
                anchor = self.cities[int(rng.choice(len(self.cities), p=self.p_city))]
                lat0, lon0, key = anchor.lat, anchor.lon, anchor.key
                sigma = self.city_sigma[anchor.key]
            else:
                lat0, lon0, key = self._random_land_point(rng)
                sigma = RURAL_SIGMA_DEG
            lats = lat0 + rng.normal(0.0, sigma, burst)
            lons = lon0 + rng.normal(0.0, sigma, burst)
            at_sea = ~shapely.contains_xy(self.land, lons, lats)
            lats[at_sea] = lat0  # the anchor itself is on land
            lons[at_sea] = lon0
            sites.extend(
                PhotoSite(float(a), float(b), cluster, key, scene)
                for a, b in zip(lats, lons, strict=True)
            )
        return sites
