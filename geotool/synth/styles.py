"""The designed geographic signal: how a place's buildings, towers, mountains and climate look.

Each style is a pure function of the world's seed and a place key (a stable hash seeds a
private generator), so every photo of the same country/state/city shares it, whatever the
photo seed. Which concept carries which level is declared in ``concepts.DESIGN``; this module
is where that declaration comes true:

- building and house style (wall colour, roof shape and colour, window grid and colour, height)
  is drawn per country and then perturbed per state;
- the signature tower (profile, taper, top, colour, bands) is drawn per city (landmarks adjust
  the top by their landmark type);
- the mountain silhouette (harmonics, height, colour, snow) is drawn per state;
- sky and vegetation colours (and the tree shape) follow the climate band of the latitude.
"""

from __future__ import annotations

import colorsys
import hashlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

ROOF_KINDS = ("flat", "gable", "pyramid", "dome")
TOWER_TOPS = ("spire", "dome", "ball", "flat", "antenna")
CLIMATES = ("tropical", "arid", "temperate", "boreal")
TREE_SHAPES = ("wide", "sparse", "round", "cone")  # one per climate, same order


def key_rng(world_seed: int, *parts: str) -> np.random.Generator:
    """A generator seeded by a stable hash of the world seed and the given parts."""
    digest = hashlib.blake2b("\x1f".join((str(world_seed), *parts)).encode(), digest_size=8)
    return np.random.default_rng(int.from_bytes(digest.digest(), "little"))


def _hsv(h: float, s: float, v: float) -> NDArray[np.float32]:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), dtype=np.float32) * 255.0


@dataclass(frozen=True)
class BuildingStyle:
    """How buildings (and houses) look in one state of one country."""

    wall: NDArray[np.float32]
    roof_kind: str
    roof: NDArray[np.float32]
    window: NDArray[np.float32]
    window_step: tuple[float, float]  # (y, x) as fractions of the image size
    window_fill: tuple[float, float]  # fraction of each step that is glass
    height: tuple[float, float]  # min, max as fractions of the image size
    width: tuple[float, float]


def country_building_style(world_seed: int, country: str) -> BuildingStyle:
    """The country's base building style."""
    rng = key_rng(world_seed, "building", country)
    wall = _hsv(rng.random(), rng.uniform(0.15, 0.65), rng.uniform(0.45, 0.95))
    roof = _hsv(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.7))
    bright = rng.random() < 0.5
    window = (
        _hsv(rng.uniform(0.5, 0.7), rng.uniform(0.1, 0.5), rng.uniform(0.75, 1.0))
        if bright
        else _hsv(rng.random(), rng.uniform(0.0, 0.4), rng.uniform(0.05, 0.3))
    )
    tall = rng.random() < 0.5
    return BuildingStyle(
        wall=wall,
        roof_kind=ROOF_KINDS[int(rng.integers(len(ROOF_KINDS)))],
        roof=roof,
        window=window,
        window_step=(float(rng.uniform(0.04, 0.1)), float(rng.uniform(0.035, 0.09))),
        window_fill=(float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7))),
        height=(0.22, 0.45) if tall else (0.1, 0.24),
        width=(float(rng.uniform(0.1, 0.16)), float(rng.uniform(0.18, 0.3))),
    )


def building_style(world_seed: int, country: str, state: str | None) -> BuildingStyle:
    """The country's style perturbed by the state (colour shifts, window spacing, roof)."""
    base = country_building_style(world_seed, country)
    if state is None:
        return base
    rng = key_rng(world_seed, "building-state", country, state)
    shift = rng.normal(0.0, 22.0, 3).astype(np.float32)
    roof_kind = (
        ROOF_KINDS[int(rng.integers(len(ROOF_KINDS)))] if rng.random() < 0.3 else base.roof_kind
    )
    scale_y, scale_x = rng.uniform(0.8, 1.25, 2)
    return BuildingStyle(
        wall=np.clip(base.wall + shift, 0, 255),
        roof_kind=roof_kind,
        roof=np.clip(base.roof + rng.normal(0.0, 25.0, 3), 0, 255).astype(np.float32),
        window=base.window,
        window_step=(base.window_step[0] * scale_y, base.window_step[1] * scale_x),
        window_fill=base.window_fill,
        height=base.height,
        width=base.width,
    )


@dataclass(frozen=True)
class TowerStyle:
    """A city's signature tower."""

    height: float  # fraction of the image size (landmark close-up scale)
    base_half: float  # half width at the base, fraction of the image size
    taper: float  # top half width / base half width
    top: str
    color: NDArray[np.float32]
    band_color: NDArray[np.float32]
    bands: int  # number of horizontal bands (0 = none)


def tower_style(world_seed: int, city: str, landmark_type: str | None = None) -> TowerStyle:
    """The city's tower; a landmark of a given type fixes the top (tower: spire, church: ...)."""
    rng = key_rng(world_seed, "tower", city)
    color = _hsv(rng.random(), rng.uniform(0.05, 0.6), rng.uniform(0.35, 0.95))
    band = _hsv(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.2, 0.9))
    top = TOWER_TOPS[int(rng.integers(len(TOWER_TOPS)))]
    by_type = {"tower": "antenna", "church": "spire", "museum": "dome", "monument": "ball"}
    if landmark_type in by_type and rng.random() < 0.5:
        top = by_type[landmark_type]
    return TowerStyle(
        height=float(rng.uniform(0.45, 0.75)),
        base_half=float(rng.uniform(0.04, 0.12)),
        taper=float(rng.uniform(0.15, 1.0)),
        top=top,
        color=color,
        band_color=band,
        bands=int(rng.integers(0, 5)),
    )


def city_has_tower(world_seed: int, city: str) -> bool:
    """Most (not all) cities have a signature tower that shows up in some street photos."""
    return bool(key_rng(world_seed, "tower-exists", city).random() < 0.75)


@dataclass(frozen=True)
class MountainStyle:
    """A state's mountain range seen from its valleys."""

    chance: float  # probability that a rural photo shows it (city photos: half of that)
    height: float  # peak height above the horizon, fraction of the image size
    freqs: NDArray[np.float32]  # cycles per image width of three harmonics
    amps: NDArray[np.float32]
    phases: NDArray[np.float32]
    color: NDArray[np.float32]
    snow: float  # fraction of the height from the peak that is snow-covered (0 = none)


def mountain_style(world_seed: int, state: str) -> MountainStyle:
    rng = key_rng(world_seed, "mountain", state)
    amps = rng.uniform(0.2, 1.0, 3).astype(np.float32)
    return MountainStyle(
        chance=float(rng.uniform(0.25, 0.95)),
        height=float(rng.uniform(0.08, 0.3)),
        freqs=np.sort(rng.uniform(0.5, 6.0, 3)).astype(np.float32),
        amps=amps / amps.sum(),
        phases=rng.uniform(0.0, 2 * np.pi, 3).astype(np.float32),
        color=_hsv(rng.uniform(0.05, 0.7), rng.uniform(0.1, 0.45), rng.uniform(0.3, 0.7)),
        snow=float(rng.uniform(0.15, 0.45)) if rng.random() < 0.4 else 0.0,
    )


@dataclass(frozen=True)
class ClimateStyle:
    """Sky and vegetation of a climate band."""

    name: str
    sky_top: NDArray[np.float32]
    sky_horizon: NDArray[np.float32]
    foliage: NDArray[np.float32]
    plant: NDArray[np.float32]
    tree_shape: str


_CLIMATE_COLOURS = {
    # sky top, sky at the horizon, tree foliage, plants
    "tropical": ((35, 85, 205), (140, 195, 245), (20, 115, 35), (40, 150, 45)),
    "arid": ((125, 160, 205), (235, 215, 175), (125, 120, 60), (160, 135, 75)),
    "temperate": ((80, 140, 220), (195, 215, 235), (55, 135, 55), (95, 160, 70)),
    "boreal": ((105, 120, 150), (205, 208, 215), (25, 70, 55), (65, 95, 80)),
}


def climate_of(abs_lat: float, abs_lat_min: float, abs_lat_max: float) -> int:
    """Climate band 0..3 (tropical, arid, temperate, boreal) of |latitude| within the world.

    The bands split the world's own range of |latitude| into quarters, so every synthetic
    world has all four climates whatever its extent.
    """
    span = max(abs_lat_max - abs_lat_min, 1e-9)
    t = (abs_lat - abs_lat_min) / span
    return int(min(max(t, 0.0), 0.999999) * len(CLIMATES))


def climate_style(band: int) -> ClimateStyle:
    name = CLIMATES[band]
    top, horizon, foliage, plant = _CLIMATE_COLOURS[name]
    return ClimateStyle(
        name=name,
        sky_top=np.array(top, dtype=np.float32),
        sky_horizon=np.array(horizon, dtype=np.float32),
        foliage=np.array(foliage, dtype=np.float32),
        plant=np.array(plant, dtype=np.float32),
        tree_shape=TREE_SHAPES[band],
    )
