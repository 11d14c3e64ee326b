"""Tests of the synthetic photos: determinism, mask/pixel agreement, the designed signal, splits.

The world is the hand-made four-country world of ``synth_tiny_world`` so these tests do not
depend on the world generator.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from synth_tiny_world import write_tiny_world

from geotool.synth import concepts, styles
from geotool.synth.errors import SynthError
from geotool.synth.photos import PhotoSet, generate_photos, load_photo_set
from geotool.synth.places import load_world
from geotool.synth.scene import SceneSpec, noise_bank, render_scene


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def photo_set(world_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> PhotoSet:
    return generate_photos(world_dir, 360, 64, tmp_path_factory.mktemp("photos") / "set",
                           seed=11, val_fraction=0.15, test_fraction=0.15)


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_photos(world_dir: Path, tmp_path: Path) -> None:
    a = generate_photos(world_dir, 20, 48, tmp_path / "a", seed=5)
    b = generate_photos(world_dir, 20, 48, tmp_path / "b", seed=5)
    c = generate_photos(world_dir, 20, 48, tmp_path / "c", seed=6)
    files_a, files_b, files_c = _files(a.directory), _files(b.directory), _files(c.directory)
    assert files_a == files_b
    assert len(files_a) == 20 * 2 + 6  # images, masks, 4 CSVs, photos.json, design.json
    differing = [k for k in files_a if k.endswith(".jpg") and files_a[k] != files_c.get(k)]
    assert len(differing) == 20


def test_overwrite_replaces_and_refuses_without_flag(world_dir: Path, tmp_path: Path) -> None:
    generate_photos(world_dir, 12, 32, tmp_path / "s", seed=1)
    with pytest.raises(SynthError, match="overwrite"):
        generate_photos(world_dir, 5, 32, tmp_path / "s", seed=1)
    small = generate_photos(world_dir, 5, 32, tmp_path / "s", seed=1, overwrite=True)
    assert len(list((tmp_path / "s" / "images").rglob("*.jpg"))) == 5
    assert small.records == load_photo_set(tmp_path / "s").records


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "at least 1"),
        ({"n": -3}, "at least 1"),
        ({"size": 16}, "32 to"),
        ({"without": ["building", "spaceship"]}, "spaceship"),
        ({"val_fraction": 0.6, "test_fraction": 0.5}, "no photos for training"),
        ({"test_fraction": 1.5}, r"\[0, 1\)"),
    ],
)
def test_invalid_arguments_raise_synth_error(
    world_dir: Path, tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"n": 4, "size": 32, **kwargs}
    with pytest.raises(SynthError, match=message):
        generate_photos(world_dir, out_dir=tmp_path / "o", **args)  # type: ignore[arg-type]
    assert not (tmp_path / "o" / "photos.json").exists()


def test_missing_world_and_foreign_output_dir(world_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(SynthError, match="world.json is missing"):
        generate_photos(tmp_path / "no-world", 4, 32, tmp_path / "o")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(SynthError, match="not empty"):
        generate_photos(world_dir, 4, 32, tmp_path / "busy")
    assert SynthError.__mro__[1] is ValueError


def test_csvs_are_ingestable_and_splits_do_not_share_photographers(photo_set: PhotoSet) -> None:
    directory = photo_set.directory
    rows: dict[str, list[dict[str, str]]] = {}
    for name in ("train", "val", "test", "all"):
        with (directory / f"{name}.csv").open(newline="") as fh:
            reader = csv.DictReader(fh)
            expected = ["id", "lat", "lon", "path", "mask_path"] + (["split"] if name == "all"
                                                                    else [])
            assert reader.fieldnames == expected
            rows[name] = list(reader)
    assert sorted(r["id"] for r in rows["all"]) == sorted(
        r["id"] for s in ("train", "val", "test") for r in rows[s])
    for split in ("train", "val", "test"):
        assert rows[split], f"{split} split is empty"
        assert {r["id"] for r in rows[split]} == {
            r["id"] for r in rows["all"] if r["split"] == split}
    for row in rows["all"][:30]:
        assert (directory / row["path"]).is_file() and (directory / row["mask_path"]).is_file()
        assert -90 <= float(row["lat"]) <= 90 and -180 <= float(row["lon"]) <= 180
    split_of_cluster: dict[str, set[str]] = {}
    for record in photo_set.records:
        split_of_cluster.setdefault(record.cluster, set()).add(record.split)
    assert all(len(s) == 1 for s in split_of_cluster.values())
    assert len(split_of_cluster) > 20  # photographers take several photos, not all of them
    shares = Counter(r.split for r in photo_set.records)
    assert 0.55 < shares["train"] / len(photo_set.records) < 0.85


def test_photos_are_on_land_and_follow_popularity(photo_set: PhotoSet, world_dir: Path) -> None:
    world = load_world(world_dir)
    for record in photo_set.records:
        located = world.locate(record.lat, record.lon)
        assert located, f"{record.id} at ({record.lat}, {record.lon}) is at sea"
        assert located[-1].key == record.country
    scenes = Counter(r.scene for r in photo_set.records)
    assert scenes["city"] > scenes["rural"] > 0 and scenes["landmark"] > 0
    # city popularity in the tiny world grows with the key; photos should too
    per_city = Counter(r.anchor for r in photo_set.records if r.scene == "city")
    cities = sorted((p.popularity or 0.0, p.key) for p in world.of_kind("city"))
    least, most = cities[:2], cities[-2:]
    assert sum(per_city[k] for _, k in most) > 2 * sum(per_city[k] for _, k in least)


def test_design_json_declares_ade20k_concepts(photo_set: PhotoSet) -> None:
    design = json.loads((photo_set.directory / "design.json").read_text())
    assert design == concepts.DESIGN
    assert len(design) >= 10
    # ids from ADE20k's published objectInfo150 table
    published = {"building": 2, "sky": 3, "tree": 5, "road": 7, "grass": 10, "sidewalk": 12,
                 "person": 13, "mountain": 17, "plant": 18, "car": 21, "water": 22,
                 "house": 26, "fence": 33, "tower": 85}
    assert {k: concepts.concept_id(k) for k in published} == published
    assert design["building"] and design["tower"] and not design["road"] and not design["car"]


def _spec(kind: str, without: frozenset[str] = frozenset()) -> SceneSpec:
    return SceneSpec(
        kind=kind,
        building=styles.building_style(3, "R1", "R2"),
        climate=styles.climate_style(2),
        tower=styles.tower_style(3, "R5"),
        mountain=styles.mountain_style(3, "R2"),
        without=without,
    )


def test_label_map_matches_drawn_colours() -> None:
    """Sky pixels carry sky colours, building pixels wall/roof/window colours, per the styles."""
    noise = noise_bank(96, 0)
    spec = _spec("city")
    sky_lo = np.minimum(spec.climate.sky_top, spec.climate.sky_horizon) - 45
    sky_hi = np.maximum(spec.climate.sky_top, spec.climate.sky_horizon) + 45
    palette = np.stack([spec.building.wall, spec.building.roof, spec.building.window])
    seen_building = 0
    for i in range(12):
        rgb, labels = render_scene(spec, 96, np.random.default_rng(i), noise)
        assert rgb.shape == (96, 96, 3) and labels.shape == (96, 96)
        px = rgb.astype(np.float64)
        sky = px[labels == concepts.SKY]
        assert len(sky) > 0
        inside = np.all((sky >= sky_lo) & (sky <= sky_hi), axis=1)
        assert inside.mean() > 0.97
        building = px[labels == concepts.BUILDING]
        if len(building):
            seen_building += 1
            nearest = np.min(np.linalg.norm(building[:, None, :] - palette[None], axis=2), axis=1)
            assert np.mean(nearest < 45) > 0.95
        # rendered concepts outside the label vocabulary never appear
        assert set(np.unique(labels)) <= {0, *concepts.ADE20K_IDS.values()}
    assert seen_building >= 10


def test_scene_kinds_draw_their_concepts_and_without_removes() -> None:
    noise = noise_bank(64, 1)
    by_kind: dict[str, set[str]] = {}
    for kind in ("city", "landmark", "rural"):
        seen: set[str] = set()
        for i in range(25):
            _, labels = render_scene(_spec(kind), 64, np.random.default_rng(i), noise)
            seen |= {concepts.ADE20K_NAMES[k] for k in np.unique(labels)}
        by_kind[kind] = seen
    assert {"sky", "building", "road", "sidewalk", "car", "person"} <= by_kind["city"]
    assert "tower" in by_kind["landmark"]
    assert {"grass", "tree", "house"} <= by_kind["rural"]
    assert "building" not in by_kind["rural"] and "house" not in by_kind["city"]
    assert "other" not in by_kind["city"]
    without = frozenset({"sky", "building", "tower"})
    for i in range(10):
        _, labels = render_scene(_spec("city", without), 64, np.random.default_rng(i), noise)
        names = {concepts.ADE20K_NAMES[k] for k in np.unique(labels)}
        assert not names & without
        assert "other" in names  # the sky area stays unlabelled


def test_written_masks_align_with_jpeg_pixels(photo_set: PhotoSet) -> None:
    """In the files, sky pixels have their climate's sky colours (JPEG and gain aside)."""
    checked = 0
    for record in photo_set.records[:60]:
        labels = photo_set.mask(record)
        rgb = photo_set.image(record).astype(np.float64)
        assert labels.shape == rgb.shape[:2] == (64, 64)
        assert {concepts.ADE20K_NAMES[k] for k in np.unique(labels) if k} == set(record.concepts)
        sky = labels == concepts.SKY
        core = sky.copy()  # erode by one pixel: JPEG smears edges
        core[1:] &= sky[:-1]
        core[:-1] &= sky[1:]
        core[:, 1:] &= sky[:, :-1]
        core[:, :-1] &= sky[:, 1:]
        if core.sum() < 20:
            continue
        style = styles.climate_style(styles.CLIMATES.index(record.climate))
        lo = np.minimum(style.sky_top, style.sky_horizon) * 0.75 - 40
        hi = np.maximum(style.sky_top, style.sky_horizon) * 1.28 + 40
        px = rgb[core]
        assert np.mean(np.all((px >= lo) & (px <= hi), axis=1)) > 0.95, record.id
        checked += 1
    assert checked > 30


def _probe_accuracy(photo_set: PhotoSet, concept_ids: tuple[int, ...]) -> tuple[float, float]:
    """Least-squares one-vs-all probe from a concept's colour statistics to the country.

    Fits on train, scores on val+test (other photographers); returns (accuracy, majority-class
    accuracy on the same evaluation photos).
    """
    feats: dict[str, list[np.ndarray]] = {"fit": [], "eval": []}
    labels: dict[str, list[str]] = {"fit": [], "eval": []}
    for record in photo_set.records:
        mask = np.isin(photo_set.mask(record), concept_ids)
        if mask.sum() < 15:
            continue
        px = photo_set.image(record)[mask].astype(np.float64) / 255.0
        part = "fit" if record.split == "train" else "eval"
        feats[part].append(np.concatenate([px.mean(0), px.std(0), np.median(px, 0), [1.0]]))
        labels[part].append(record.country or "")
    classes = sorted(set(labels["fit"]))
    x_fit, x_eval = np.array(feats["fit"]), np.array(feats["eval"])
    y_fit = np.array([[c == k for k in classes] for c in labels["fit"]], dtype=np.float64)
    weights, *_ = np.linalg.lstsq(x_fit, y_fit, rcond=None)
    predicted = [classes[i] for i in np.argmax(x_eval @ weights, axis=1)]
    accuracy = float(np.mean([p == t for p, t in zip(predicted, labels["eval"], strict=True)]))
    majority = Counter(labels["fit"]).most_common(1)[0][0]
    base = float(np.mean([t == majority for t in labels["eval"]]))
    assert len(labels["eval"]) >= 30
    return accuracy, base


def test_building_colours_predict_the_country_and_road_colours_do_not(
    photo_set: PhotoSet,
) -> None:
    building_acc, building_base = _probe_accuracy(
        photo_set, (concepts.BUILDING, concepts.HOUSE))
    road_acc, road_base = _probe_accuracy(photo_set, (concepts.ROAD,))
    assert building_acc > building_base + 0.3, (building_acc, building_base)
    assert road_acc < road_base + 0.15, (road_acc, road_base)


def test_preview_colours_each_rendered_concept_distinctly() -> None:
    from geotool.synth.preview import colorize_labels, contact_sheet

    ids = np.array([[concepts.ADE20K_IDS[c] for c in concepts.RENDERED_CONCEPTS]], np.uint8)
    colours = colorize_labels(ids)[0]
    assert len({tuple(c) for c in colours}) == len(concepts.RENDERED_CONCEPTS)
    assert colorize_labels(np.zeros((2, 2), np.uint8)).max() == 0
    sheet = contact_sheet([np.full((4, 5, 3), k, np.uint8) for k in range(3)], columns=2, gap=1)
    assert sheet.shape == (9, 11, 3)
    assert sheet[5, 0, 0] == 2 and sheet[0, 6, 0] == 1 and sheet[4, 4, 0] == 255


def test_cli_writes_a_photo_set_and_reports_errors(world_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from geotool.cli.app import app

    runner = CliRunner()
    out = tmp_path / "cli"
    ok = runner.invoke(app, ["synth", "photos", "--world", str(world_dir), "--n", "8",
                             "--size", "32", "--out", str(out), "--seed", "2",
                             "--without", "car"])
    assert ok.exit_code == 0, ok.output
    photo_set = load_photo_set(out)
    assert len(photo_set.records) == 8 and photo_set.parameters["without"] == ["car"]
    assert all("car" not in r.concepts for r in photo_set.records)
    bad = runner.invoke(app, ["synth", "photos", "--world", str(world_dir), "--n", "0",
                              "--size", "32", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 1
    assert "n=0" in bad.output
