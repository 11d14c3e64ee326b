"""Composing one street-level scene (landmark, city or rural) from a location's styles.

The location decides the styles (``styles.py``); the per-photo generator decides everything
that carries no geographic signal: horizon, layout, counts, positions, the colours of grass,
road, cars, people, fences and water, lighting and noise. Drawing order is back to front
(sky, mountains, ground, water, road, tower, buildings, houses, trees, fence, plants, cars,
people), so occlusion is right in both the image and the label map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from geotool.synth import concepts as C
from geotool.synth.render import Canvas
from geotool.synth.styles import BuildingStyle, ClimateStyle, MountainStyle, TowerStyle

SCENE_KINDS = ("landmark", "city", "rural")
NOISE_SD = 6.0  # sensor noise, grey levels


def noise_bank(size: int, seed: int) -> NDArray[np.float32]:
    """The sensor-noise bank ``render_scene`` takes windows from."""
    bank = np.random.default_rng([seed, 2]).standard_normal((2 * size, 2 * size, 3),
                                                          dtype=np.float32)
    bank *= np.float32(NOISE_SD)
    return bank


@dataclass(frozen=True)
class SceneSpec:
    """Everything location-dependent that one photo needs (plus the camera's colour gain)."""

    kind: str
    building: BuildingStyle
    climate: ClimateStyle
    tower: TowerStyle | None = None
    mountain: MountainStyle | None = None
    gain: NDArray[np.float32] = field(default_factory=lambda: np.ones(3, dtype=np.float32))
    without: frozenset[str] = frozenset()


def _jitter(rng: np.random.Generator, color: NDArray[np.float32], sd: float) -> NDArray[Any]:
    """The colour with a little per-object noise (the final image is clipped to 0..255)."""
    return color + rng.normal(0.0, sd, 3)


def _random_color(rng: np.random.Generator, lo: float = 0.0, hi: float = 255.0) -> NDArray[Any]:
    return rng.uniform(lo, hi, 3)


class _Scene:
    """One photo being drawn; methods draw one concept each."""

    def __init__(self, spec: SceneSpec, size: int, rng: np.random.Generator) -> None:
        self.spec = spec
        self.s = float(size)
        self.rng = rng
        self.canvas = Canvas(size)
        self.horizon = float(rng.uniform(0.38, 0.58)) * self.s
        self.road: tuple[float, float, float, float] | None = None  # vx, bx, half_bottom, y0

    def on(self, concept: str) -> bool:
        return concept not in self.spec.without

    def depth(self, y: float) -> float:
        """Perspective scale of an object standing at row y (0 at the horizon, 1 at bottom)."""
        return 0.25 + 0.95 * max(y - self.horizon, 0.0) / max(self.s - self.horizon, 1.0)

    # -- background ---------------------------------------------------------------------------
    def sky(self) -> None:
        cl, hz = self.spec.climate, int(self.horizon)
        if self.on("sky"):
            self.canvas.rows_gradient(
                0, hz, _jitter(self.rng, cl.sky_top, 8), _jitter(self.rng, cl.sky_horizon, 8), C.SKY
            )
        else:
            grey = np.full(3, 128.0, dtype=np.float32)
            self.canvas.rows_gradient(0, hz, grey, grey, C.UNLABELED)

    def mountains(self) -> None:
        m = self.spec.mountain
        if m is None or not self.on("mountain"):
            return
        chance = m.chance * (0.5 if self.spec.kind != "rural" else 1.0)
        if self.rng.random() >= chance:
            return
        s, hz = self.s, self.horizon
        x = self.canvas.coords / s
        pan = float(self.rng.uniform(-0.5, 0.5))
        wave = (m.amps[:, None] * np.sin(2 * np.pi * m.freqs[:, None] * (x[None, :] + pan)
                                         + m.phases[:, None])).sum(axis=0)
        height = m.height * s * float(self.rng.uniform(0.85, 1.1))
        curve = (hz - height * (0.6 + 0.4 * wave)).astype(np.float32)
        self.canvas.under_curve(curve, hz, _jitter(self.rng, m.color, 6), C.MOUNTAIN, shade=0.3)
        if m.snow > 0:
            snow_line = hz - height * (1.0 - m.snow)
            self.canvas.under_curve(curve, snow_line, (235.0, 238.0, 245.0), C.MOUNTAIN)

    def ground(self) -> None:
        rng, hz = self.rng, int(self.horizon)
        size = int(self.s)
        if self.spec.kind == "rural":
            concept = "grass"
            top = np.array([rng.uniform(50, 110), rng.uniform(105, 165), rng.uniform(30, 80)],
                           dtype=np.float32)
        else:
            concept = "sidewalk"
            top = np.full(3, rng.uniform(140, 190), dtype=np.float32)
            top += rng.uniform(-12, 12, 3).astype(np.float32)
        label = C.ADE20K_IDS[concept] if self.on(concept) else C.UNLABELED
        bottom = top * rng.uniform(0.8, 1.1)
        self.canvas.rows_gradient(hz, size, top, bottom, label)
        if self.spec.kind != "rural" and self.on("grass") and rng.random() < 0.4:
            y0 = self.horizon + rng.uniform(0.02, 0.1) * self.s
            color = np.array([rng.uniform(50, 110), rng.uniform(105, 165), rng.uniform(30, 80)],
                             dtype=np.float32)
            self.canvas.rect(y0, y0 + rng.uniform(0.04, 0.15) * self.s, 0, self.s, color, C.GRASS)

    def water(self) -> None:
        if self.spec.kind != "rural" or not self.on("water") or self.rng.random() >= 0.3:
            return
        rng, s = self.rng, self.s
        y0 = self.horizon
        x0 = rng.uniform(-0.3, 0.5) * s
        color = np.array([rng.uniform(30, 80), rng.uniform(80, 140), rng.uniform(140, 200)],
                         dtype=np.float32)
        self.canvas.rect(y0, y0 + rng.uniform(0.04, 0.12) * s, x0, x0 + rng.uniform(0.4, 1.0) * s,
                         color, C.WATER)

    def road_surface(self) -> None:
        chance = {"city": 1.0, "landmark": 0.3, "rural": 0.5}[self.spec.kind]
        if not self.on("road") or self.rng.random() >= chance:
            return
        rng, s, hz = self.rng, self.s, self.horizon
        vx = rng.uniform(0.3, 0.7) * s
        bx = vx + rng.uniform(-0.3, 0.3) * s
        half = rng.uniform(0.2, 0.45) * s * (0.6 if self.spec.kind == "rural" else 1.0)
        grey = np.full(3, rng.uniform(60, 125), dtype=np.float32) + rng.uniform(-6, 6, 3)
        self.canvas.trapezoid(hz, s, vx, 0.01 * s, bx, half, grey.astype(np.float32), C.ROAD)
        self.road = (vx, bx, half, hz)

    # -- geographic objects ---------------------------------------------------------------------
    def tower(self, scale: float, cx: float, base: float) -> None:
        t = self.spec.tower
        if t is None or not self.on("tower"):
            return
        s = self.s
        h = t.height * s * scale
        top_y = base - h
        half = t.base_half * s * scale
        top_half = max(half * t.taper, 0.6)
        color = _jitter(self.rng, t.color, 5)
        cv = self.canvas
        # the top first, so the body's outline stays clean
        if t.top == "spire":
            cv.trapezoid(top_y - 0.3 * h, top_y + 1, cx, 0.0, cx, top_half * 1.1, t.band_color,
                         C.TOWER)
        elif t.top == "dome":
            cv.ellipse(top_y, cx, top_half * 1.2, top_half * 1.3, t.band_color, C.TOWER)
        elif t.top == "ball":
            cv.rect(top_y - 0.12 * h, top_y + 1, cx - 0.6, cx + 0.6, color, C.TOWER)
            r = max(top_half * 1.6, 1.5)
            cv.ellipse(top_y - 0.08 * h, cx, r, r, t.band_color, C.TOWER)
        elif t.top == "flat":
            cv.rect(top_y - 0.03 * h, top_y + 1, cx - top_half * 1.5, cx + top_half * 1.5,
                    t.band_color, C.TOWER)
        else:  # antenna
            cv.rect(top_y - 0.22 * h, top_y + 1, cx - 0.7, cx + 0.7, t.band_color, C.TOWER)
        cv.trapezoid(top_y, base, cx, top_half, cx, half, color, C.TOWER)
        for i in range(t.bands):
            a = top_y + h * (i + 1) / (t.bands + 1)
            b = a + 0.03 * h + 1
            ha = top_half + (half - top_half) * (a - top_y) / h
            hb = top_half + (half - top_half) * (b - top_y) / h
            cv.trapezoid(a, b, cx, ha, cx, hb, t.band_color, C.TOWER)

    def one_building(
        self, x0: float, w: float, h: float, base: float, label: int, scale: float = 1.0
    ) -> None:
        st, cv, rng, s = self.spec.building, self.canvas, self.rng, self.s
        top = base - h
        cx = x0 + w / 2
        roof = _jitter(rng, st.roof, 6)
        if st.roof_kind == "gable":
            cv.trapezoid(top - 0.35 * w, top + 1, cx, 0.0, cx, w * 0.55, roof, label)
        elif st.roof_kind == "pyramid":
            cv.trapezoid(top - 0.18 * w, top + 1, cx, 0.12 * w, cx, w * 0.52, roof, label)
        elif st.roof_kind == "dome":
            cv.ellipse(top, cx, 0.3 * w, 0.42 * w, roof, label)
        else:
            cv.rect(top - max(0.05 * h, 1.0), top + 1, x0 - 1, x0 + w + 1, roof, label)
        cv.rect(top, base, x0, x0 + w, _jitter(rng, st.wall, 12), label)
        sy, sx = st.window_step[0] * s * scale, st.window_step[1] * s * scale
        if sy >= 2.0 and sx >= 2.0:
            margin = 0.35 * sx
            cv.grid(top + margin, base - 0.6 * sy, x0 + margin, x0 + w - margin,
                    sy, sx, sy * st.window_fill[0], sx * st.window_fill[1],
                    _jitter(rng, st.window, 5), label)

    def building_row(self, avoid: tuple[float, float] | None = None) -> None:
        if not self.on("building"):
            return
        st, rng, s = self.spec.building, self.rng, self.s
        x = -rng.uniform(0.0, 0.1) * s
        base = self.horizon + rng.uniform(0.0, 0.04) * s
        while x < s:
            w = rng.uniform(*st.width) * s
            h = rng.uniform(*st.height) * s
            if avoid is None or x + w < avoid[0] or x > avoid[1]:
                self.one_building(x, w, h, base, C.BUILDING)
            x += w + rng.uniform(0.0, 0.04) * s

    def houses(self, count: int) -> None:
        if not self.on("house"):
            return
        rng, s = self.rng, self.s
        for base in np.sort(self.horizon + rng.uniform(0.02, 0.2, count) * s):
            k = self.depth(float(base))
            w = rng.uniform(0.12, 0.2) * s * k
            h = w * rng.uniform(0.55, 0.9)
            self.one_building(rng.uniform(-0.05, 0.95) * s, w, h, float(base), C.HOUSE, scale=k)

    def trees(self, count: int) -> None:
        if not self.on("tree"):
            return
        rng, s, cv, cl = self.rng, self.s, self.canvas, self.spec.climate
        trunk = np.array([rng.uniform(70, 110), rng.uniform(50, 75), rng.uniform(30, 50)],
                         dtype=np.float32)
        for base in np.sort(self.horizon + rng.uniform(0.01, 0.4, count) * s):
            k = self.depth(float(base))
            cx = rng.uniform(0.0, 1.0) * s
            h = rng.uniform(0.18, 0.3) * s * k
            tw = max(0.012 * s * k, 0.8)
            cv.rect(base - h * 0.45, base, cx - tw, cx + tw, trunk, C.TREE)
            color = _jitter(rng, cl.foliage, 9)
            crown_y = base - h * 0.45
            if cl.tree_shape == "cone":
                cv.trapezoid(base - h * 1.05, base - h * 0.2, cx, 0.0, cx, h * 0.28, color, C.TREE)
            elif cl.tree_shape == "wide":
                cv.ellipse(crown_y - h * 0.25, cx, h * 0.22, h * 0.5, color, C.TREE)
            elif cl.tree_shape == "sparse":
                cv.ellipse(crown_y - h * 0.15, cx, h * 0.17, h * 0.2, color, C.TREE)
            else:
                cv.ellipse(crown_y - h * 0.25, cx, h * 0.35, h * 0.32, color, C.TREE)

    # -- location-independent clutter ---------------------------------------------------------
    def fence(self, chance: float) -> None:
        if not self.on("fence") or self.rng.random() >= chance:
            return
        rng, s = self.rng, self.s
        base = self.horizon + rng.uniform(0.1, 0.4) * s
        k = self.depth(base)
        h = 0.08 * s * k
        x0 = rng.uniform(-0.2, 0.5) * s
        color = np.full(3, rng.uniform(70, 170), dtype=np.float32) * rng.uniform(0.8, 1.1, 3)
        self.canvas.grid(base - h, base, x0, x0 + rng.uniform(0.3, 0.9) * s,
                         max(h / 2.5, 1.5), max(0.05 * s * k, 2.0), max(h * 0.12, 1.0),
                         max(0.012 * s * k, 1.0), color.astype(np.float32), C.FENCE, union=True)

    def plants(self, count: int) -> None:
        if not self.on("plant"):
            return
        rng, s, cl = self.rng, self.s, self.spec.climate
        for base in np.sort(self.horizon + rng.uniform(0.2, 0.55, count) * s):
            k = self.depth(float(base))
            r = rng.uniform(0.03, 0.06) * s * k
            self.canvas.ellipse(float(base) - r * 0.6, rng.uniform(0.0, 1.0) * s, r * 0.8, r * 1.3,
                                _jitter(rng, cl.plant, 9), C.PLANT)

    def cars(self, count: int) -> None:
        if not self.on("car") or count <= 0:
            return
        rng, s, cv, hz = self.rng, self.s, self.canvas, self.horizon
        for base in np.sort(hz + rng.uniform(0.12, 0.55, count) * s):
            base = float(base)
            k = self.depth(base)
            if self.road is not None:
                vx, bx, _half, _y0 = self.road
                t = (base - hz) / max(s - hz, 1.0)
                cx = vx + (bx - vx) * t + rng.uniform(-0.1, 0.1) * s * k
            else:
                cx = rng.uniform(0.0, 1.0) * s
            w = 0.22 * s * k
            h = 0.07 * s * k
            color = _random_color(rng, 20, 235)
            cv.rect(base - h * 1.7, base - h * 0.9, cx - w * 0.3, cx + w * 0.3, color * 0.85, C.CAR)
            cv.rect(base - h - 0.5, base - 0.25 * h, cx - w / 2, cx + w / 2, color, C.CAR)
            r = max(0.2 * h, 0.8)
            for wx in (cx - w * 0.3, cx + w * 0.3):
                cv.ellipse(base - r, wx, r, r * 1.1, (25.0, 25.0, 28.0), C.CAR)

    def people(self, count: int) -> None:
        if not self.on("person") or count <= 0:
            return
        rng, s, cv = self.rng, self.s, self.canvas
        for base in np.sort(self.horizon + rng.uniform(0.05, 0.5, count) * s):
            base = float(base)
            k = self.depth(base)
            h = 0.2 * s * k
            cx = rng.uniform(0.0, 1.0) * s
            half = max(0.05 * h, 0.7)
            cv.rect(base - 0.45 * h, base, cx - half, cx + half, _random_color(rng, 20, 200),
                    C.PERSON)
            cv.rect(base - 0.82 * h, base - 0.45 * h, cx - 1.4 * half, cx + 1.4 * half,
                    _random_color(rng), C.PERSON)
            skin = np.array([rng.uniform(90, 240)] * 3, dtype=np.float32) * (1.0, 0.8, 0.65)
            r = max(0.09 * h, 0.8)
            cv.ellipse(base - 0.82 * h - r, cx, r, r * 0.9, skin.astype(np.float32), C.PERSON)


def render_scene(
    spec: SceneSpec,
    size: int,
    rng: np.random.Generator,
    noise: NDArray[np.float32],
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Draw one photo: (H×W×3 uint8 RGB, H×W uint8 ADE20k label map).

    ``noise`` is a bank of sensor noise (grey levels, e.g. ``NOISE_SD`` × standard normal) of at
    least (2·size, 2·size, 3); a random window of it is the photo's noise (cheaper than drawing
    fresh noise per photo).
    """
    sc = _Scene(spec, size, rng)
    kind = spec.kind
    sc.sky()
    sc.mountains()
    sc.ground()
    sc.water()
    sc.road_surface()
    s = sc.s
    if kind == "city":
        if rng.random() < 0.5:
            sc.tower(float(rng.uniform(0.45, 0.75)), float(rng.uniform(0.1, 0.9)) * s,
                     sc.horizon + 0.02 * s)
        sc.building_row()
        sc.trees(int(rng.integers(0, 4)))
        sc.fence(0.15)
        sc.plants(int(rng.integers(0, 3)))
        sc.cars(int(rng.integers(1, 5)))
        sc.people(int(rng.integers(1, 6)))
    elif kind == "landmark":
        cx = float(rng.uniform(0.35, 0.65)) * s
        if rng.random() < 0.6:
            sc.building_row(avoid=(cx - 0.2 * s, cx + 0.2 * s))
        sc.tower(float(rng.uniform(0.85, 1.1)), cx, sc.horizon + float(rng.uniform(0.05, 0.15)) * s)
        sc.trees(int(rng.integers(0, 3)))
        sc.plants(int(rng.integers(0, 3)))
        sc.cars(int(rng.random() < 0.3))
        sc.people(int(rng.integers(2, 7)))
    else:
        sc.houses(int(rng.integers(0, 4)))
        sc.trees(int(rng.integers(2, 8)))
        sc.fence(0.4)
        sc.plants(int(rng.integers(0, 6)))
        sc.cars(int(sc.road is not None and rng.random() < 0.3))
        sc.people(int(rng.random() < 0.3))
    oy, ox = rng.integers(0, noise.shape[0] - size + 1), rng.integers(0, noise.shape[1] - size + 1)
    rgb = sc.canvas.to_uint8(spec.gain, noise[oy:oy + size, ox:ox + size])
    return rgb, sc.canvas.labels
