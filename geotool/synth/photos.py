"""Generating the synthetic planet's photo set: rendered scenes, label maps, CSVs, ground truth.

``generate_photos`` samples photo sites (``sampling``), looks up each site's hierarchy in the
world, derives the location's styles (``styles``), renders the scene with its ADE20k label map
(``scene``), writes ``images/``, ``masks/``, the ``train/val/test/all.csv`` files that
``geotool ingest`` reads, ``photos.json`` (parameters and per-photo ground truth) and
``design.json`` (which concept is informative at which geographic level).

Same arguments, same bytes: every photo has its own generator seeded by (seed, index), JPEG
quality is fixed and nothing records a time or an absolute path.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from geotool.progress import NO_PROGRESS, Progress
from geotool.synth import styles
from geotool.synth.concepts import ADE20K_IDS, ADE20K_NAMES, DESIGN, check_rendered
from geotool.synth.errors import SynthError
from geotool.synth.places import WORLD_JSON, Place, World, load_world
from geotool.synth.sampling import PhotoSite, SiteSampler
from geotool.synth.scene import SceneSpec, noise_bank, render_scene
from geotool.synth.splits import SPLITS, check_fractions, split_by_cluster

PHOTOS_JSON = "photos.json"
DESIGN_JSON = "design.json"
CSV_HEADER = ("id", "lat", "lon", "path", "mask_path")
MIN_SIZE = 32
MAX_SIZE = 2048
FORMAT_VERSION = 1
# Share of photos whose buildings follow another, random state's style (architecture is not
# purely local): keeps the building signal strong but not a perfect country oracle.
FOREIGN_BUILDING_SHARE = 0.2


@dataclass(frozen=True)
class PhotoRecord:
    """Ground truth of one generated photo (paths relative to the photo set's folder)."""

    id: str
    lat: float
    lon: float
    split: str
    cluster: str
    anchor: str
    scene: str
    location: tuple[str, ...]  # world.locate keys, finest first
    country: str | None
    state: str | None
    city: str | None
    climate: str
    building_style: str  # the state (or country) whose building style the photo shows
    image: str
    mask: str
    concepts: tuple[str, ...]  # the rendered concepts visible in the label map

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "lat": self.lat, "lon": self.lon, "split": self.split,
            "cluster": self.cluster, "anchor": self.anchor, "scene": self.scene,
            "location": list(self.location), "country": self.country, "state": self.state,
            "city": self.city, "climate": self.climate, "building_style": self.building_style,
            "image": self.image, "mask": self.mask,
            "concepts": list(self.concepts),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PhotoRecord:
        return cls(**{**d, "location": tuple(d["location"]), "concepts": tuple(d["concepts"])})


@dataclass(frozen=True)
class PhotoSet:
    """A generated photo set on disk."""

    directory: Path
    parameters: dict[str, Any]
    design: dict[str, list[str]]
    records: tuple[PhotoRecord, ...]

    def split(self, name: str) -> list[PhotoRecord]:
        """The photos of one split (train, val, test)."""
        if name not in SPLITS:
            raise SynthError(f"unknown split {name!r}: use one of {', '.join(SPLITS)}")
        return [r for r in self.records if r.split == name]

    def csv_path(self, name: str) -> Path:
        """``train.csv``, ``val.csv``, ``test.csv`` or ``all.csv`` of this set."""
        return self.directory / f"{name}.csv"

    def image(self, record: PhotoRecord) -> NDArray[np.uint8]:
        """The decoded RGB photo."""
        with Image.open(self.directory / record.image) as im:
            return np.asarray(im.convert("RGB"))

    def mask(self, record: PhotoRecord) -> NDArray[np.uint8]:
        """The ADE20k label map of a photo."""
        with Image.open(self.directory / record.mask) as im:
            return np.asarray(im)


def photo_set_matches(directory: Path | str, world_dir: Path | str, n: int, size: int,
                      seed: int) -> bool:
    """Whether ``directory`` holds a complete photo set of ``n`` photos of ``size`` px and
    this ``seed``, rendered from the world in ``world_dir`` as it is now (``photos.json``
    is written last, so a set cut short has none)."""
    meta = Path(directory) / PHOTOS_JSON
    if not meta.is_file() or not (Path(directory) / "all.csv").is_file():
        return False
    try:
        params = json.loads(meta.read_text(encoding="utf-8")).get("parameters", {})
    except (OSError, ValueError):
        return False
    world_hash = hashlib.sha256((Path(world_dir) / WORLD_JSON).read_bytes()).hexdigest()
    return bool(params.get("n") == n and params.get("size") == size
                and params.get("seed") == seed and params.get("world_sha256") == world_hash)


def load_photo_set(directory: Path | str) -> PhotoSet:
    """Read back a photo set written by :func:`generate_photos`."""
    directory = Path(directory)
    path = directory / PHOTOS_JSON
    if not path.is_file():
        raise SynthError(f"{directory} holds no synthetic photo set ({PHOTOS_JSON} missing); "
                         "create one with 'geotool synth photos'")
    data = json.loads(path.read_text(encoding="utf-8"))
    return PhotoSet(
        directory=directory,
        parameters=data["parameters"],
        design=data["design"],
        records=tuple(PhotoRecord.from_json(r) for r in data["photos"]),
    )


class StyleBook:
    """Styles of the world's places, computed once per key."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.seed = world.seed
        self._buildings: dict[tuple[str, str | None], styles.BuildingStyle] = {}
        self._mountains: dict[str, styles.MountainStyle] = {}
        self._towers: dict[tuple[str, str | None], styles.TowerStyle] = {}
        lo, hi = np.inf, 0.0
        for country in world.of_kind("country"):
            _, miny, _, maxy = world.geometry(country.key).bounds
            hi = max(hi, abs(miny), abs(maxy))
            lo = min(lo, 0.0 if miny <= 0 <= maxy else min(abs(miny), abs(maxy)))
        self.abs_lat_range = (float(lo), float(hi))
        self.climates = [styles.climate_style(b) for b in range(len(styles.CLIMATES))]

    def building(self, country: str, state: str | None) -> styles.BuildingStyle:
        key = (country, state)
        if key not in self._buildings:
            self._buildings[key] = styles.building_style(self.seed, country, state)
        return self._buildings[key]

    def mountain(self, region: str) -> styles.MountainStyle:
        if region not in self._mountains:
            self._mountains[region] = styles.mountain_style(self.seed, region)
        return self._mountains[region]

    def tower(self, city: str, landmark_type: str | None) -> styles.TowerStyle:
        key = (city, landmark_type)
        if key not in self._towers:
            self._towers[key] = styles.tower_style(self.seed, city, landmark_type)
        return self._towers[key]

    def climate(self, lat: float) -> styles.ClimateStyle:
        band = styles.climate_of(abs(lat), *self.abs_lat_range)
        return self.climates[band]


def _first_of_kind(path: Iterable[Place], kind: str) -> str | None:
    return next((p.key for p in path if p.kind == kind), None)


def scene_spec_for(
    site: PhotoSite, path: list[Place], book: StyleBook, gain: NDArray[np.float32],
    without: frozenset[str],
) -> tuple[SceneSpec, str | None, str | None, str | None]:
    """The scene of a photo site and its (country, state, city) keys from the located path."""
    world = book.world
    country = _first_of_kind(path, "country") or world.path(site.anchor)[-1].key
    state = _first_of_kind(path, "state")
    city = _first_of_kind(path, "city")
    tower = None
    if site.scene == "landmark":
        landmark = world.place(site.anchor)
        home = _first_of_kind(world.path(landmark.key), "city") or landmark.key
        tower = book.tower(home, landmark.landmark_type)
    elif site.scene == "city" and styles.city_has_tower(book.seed, site.anchor):
        tower = book.tower(site.anchor, None)
    spec = SceneSpec(
        kind=site.scene,
        building=book.building(country, state),
        climate=book.climate(site.lat),
        tower=tower,
        mountain=book.mountain(state or country),
        gain=gain,
        without=without,
    )
    return spec, country, state, city


def _check_arguments(n: int, size: int, jpeg_quality: int) -> None:
    if n <= 0:
        raise SynthError(f"n={n}: the number of photos must be at least 1")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise SynthError(f"size={size}: photos must be {MIN_SIZE} to {MAX_SIZE} pixels wide")
    if not 50 <= jpeg_quality <= 100:
        raise SynthError(f"jpeg_quality={jpeg_quality} must be in 50..100")


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise SynthError(f"output {out_dir} is a file; give a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not (out_dir / PHOTOS_JSON).is_file():
            raise SynthError(f"output directory {out_dir} is not empty and holds no photo set; "
                             "choose an empty or new directory")
        if not overwrite:
            raise SynthError(f"{out_dir} already holds a photo set; pass overwrite=True "
                             "(--overwrite) to replace it")
        for sub in ("images", "masks"):
            shutil.rmtree(out_dir / sub, ignore_errors=True)
        for name in (PHOTOS_JSON, DESIGN_JSON, *(f"{s}.csv" for s in (*SPLITS, "all"))):
            (out_dir / name).unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)


def _write_csv(path: Path, records: Iterable[PhotoRecord], with_split: bool) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow((*CSV_HEADER, "split") if with_split else CSV_HEADER)
        for r in records:
            row = [r.id, f"{r.lat:.7f}", f"{r.lon:.7f}", r.image, r.mask]
            writer.writerow([*row, r.split] if with_split else row)


def generate_photos(
    world_dir: Path | str,
    n: int,
    size: int,
    out_dir: Path | str,
    seed: int = 0,
    *,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    landmark_share: float = 0.3,
    rural_share: float = 0.2,
    mean_burst: float = 4.0,
    without: Iterable[str] = (),
    jpeg_quality: int = 90,
    overwrite: bool = False,
    progress: Progress = NO_PROGRESS,
) -> PhotoSet:
    """Render ``n`` photos of ``size`` px from the world in ``world_dir`` into ``out_dir``.

    ``without`` names rendered concepts to leave out (ablations); ``progress`` gets
    the phase "rendering photos", advanced by written photos. Raises
    :class:`SynthError` on invalid arguments.
    """
    _check_arguments(n, size, jpeg_quality)
    skip = check_rendered(without)
    world = load_world(world_dir)
    out = Path(out_dir)
    sampler = SiteSampler(world, landmark_share=landmark_share, rural_share=rural_share,
                          mean_burst=mean_burst)
    check_fractions(val_fraction, test_fraction)
    _prepare_out_dir(out, overwrite)

    sites = sampler.sample(n, np.random.default_rng([seed, 1]))
    splits = split_by_cluster([s.cluster for s in sites], val_fraction, test_fraction, seed)
    book = StyleBook(world)
    regions: list[tuple[str, str | None]] = [
        (world.path(s.key)[-1].key, s.key) for s in world.of_kind("state")
    ] or [(c.key, None) for c in world.of_kind("country")]
    noise = noise_bank(size, seed)
    gains: dict[str, NDArray[np.float32]] = {}
    width = max(6, len(str(n - 1)))
    records: list[PhotoRecord] = []
    made_dirs: set[Path] = set()
    progress.phase("rendering photos", n)
    for index, (site, split) in enumerate(zip(sites, splits, strict=True)):
        rng = np.random.default_rng([seed, 3, index])
        if site.cluster not in gains:  # the photographer's camera white balance
            camera = np.random.default_rng([seed, 4, int(site.cluster[1:])])
            gains[site.cluster] = camera.uniform(0.9, 1.1, 3).astype(np.float32)
        gain = gains[site.cluster] * np.float32(rng.uniform(0.85, 1.15))
        path = world.locate(site.lat, site.lon) or world.path(site.anchor)
        spec, country, state, city = scene_spec_for(site, path, book, gain, skip)
        style_of = (country, state)
        if rng.random() < FOREIGN_BUILDING_SHARE:
            style_of = regions[int(rng.integers(len(regions)))]
            spec = replace(spec, building=book.building(*style_of))
        rgb, labels = render_scene(spec, size, rng, noise)
        photo_id = f"p{index:0{width}d}"
        shard = f"{index // 1000:03d}"
        image_rel, mask_rel = f"images/{shard}/{photo_id}.jpg", f"masks/{shard}/{photo_id}.png"
        for rel in (image_rel, mask_rel):
            parent = (out / rel).parent
            if parent not in made_dirs:
                parent.mkdir(parents=True, exist_ok=True)
                made_dirs.add(parent)
        Image.fromarray(rgb).save(out / image_rel, quality=jpeg_quality)
        Image.fromarray(labels).save(out / mask_rel, compress_level=1)
        present = np.flatnonzero(np.bincount(labels.ravel(), minlength=len(ADE20K_NAMES)))
        records.append(PhotoRecord(
            id=photo_id, lat=round(site.lat, 7), lon=round(site.lon, 7), split=split,
            cluster=site.cluster, anchor=site.anchor, scene=site.scene,
            location=tuple(p.key for p in path), country=country, state=state, city=city,
            climate=spec.climate.name, building_style=style_of[1] or style_of[0] or "",
            image=image_rel, mask=mask_rel,
            concepts=tuple(ADE20K_NAMES[i] for i in present if i > 0),
        ))
        progress.advance(1)

    world_hash = hashlib.sha256((Path(world_dir) / WORLD_JSON).read_bytes()).hexdigest()
    parameters: dict[str, Any] = {
        "format_version": FORMAT_VERSION, "n": n, "size": size, "seed": seed,
        "val_fraction": val_fraction, "test_fraction": test_fraction,
        "landmark_share": landmark_share, "rural_share": rural_share, "mean_burst": mean_burst,
        "without": sorted(skip), "jpeg_quality": jpeg_quality, "world_seed": world.seed,
        "world_sha256": world_hash, "label_ids": "ADE20k objectInfo150, 0 = other",
        "concept_ids": {name: ADE20K_IDS[name] for name in DESIGN},
    }
    (out / DESIGN_JSON).write_text(json.dumps(DESIGN, indent=1) + "\n", encoding="utf-8")
    document = {"parameters": parameters, "design": DESIGN,
                "photos": [r.to_json() for r in records]}
    (out / PHOTOS_JSON).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    for name in SPLITS:
        _write_csv(out / f"{name}.csv", (r for r in records if r.split == name), False)
    _write_csv(out / "all.csv", records, True)
    return PhotoSet(directory=out, parameters=parameters, design=DESIGN, records=tuple(records))
