"""Concept-aware alignment (λ > 0) vs the GeoCLIP-style baseline (λ = 0) vs SemP.

The issue's "done when" comparison, on a synthetic world of a seed no test uses (world seed
23, 6 countries; 3,000 photos at 96 px, photo seed 23): builds the planet into a scratch
database (benchmarks/scratch_databases.py), geocodes it against the world's own boundaries
and builds SemP τ = 10, 25, 50 (as the demo); then for every training seed trains

- ``geoclip``: training/align_synthetic.toml with λ = 0 and no concept supervision
  (the GeoCLIP-style model from the same code),
- ``concept``: the same file as it is (λ = 0.5, JS, concept supervision μ = 0.2),
- ``concept_nosup`` (``--ablation``): λ = 0.5 without concept supervision,
- ``semp``: the classifier, training/synthetic.toml on SemP τ = 10, 25, 50,

and evaluates every model on the test split in memory: an alignment model predicts the
gallery coordinate (the unique training coordinates) of highest cosine similarity, the
classifier its finest class's mean coordinate. Beside them the most-frequent-class
baseline (the finest SemP class with the most training photos, for every test photo).
Prints accuracy at 1/25/200/750/2500 km per run, the mean ± standard deviation over the
seeds, and the concept measurements: among correctly placed test photos (≤ 25 km and
≤ 200 km), how often the top image-side concept is one the planet's design makes
informative vs one it makes uninformative (mask concepts only: 7 of each, chance 50 %);
and how often the top climate concept (image side; GPS side at the true coordinate) is
the photo's true climate band (majority class beside it).

    python -m benchmarks.align_compare --workdir /tmp/align-compare --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
import torch

from geotool.geocode.boundaries import load_boundaries, read_boundaries
from geotool.geocode.pipeline import GeocodeParams, geocode
from geotool.geocode.registry import GeocoderOptions
from geotool.ingest.load import ingest_file
from geotool.learn.align.data import read_align_rows
from geotool.learn.align.family import encode_gallery
from geotool.learn.align.model import load_align_checkpoint
from geotool.learn.checkpoint import load_model
from geotool.learn.config import load_train_config
from geotool.learn.data import LabelledImages, ValBatches, batch_pixels, collate, normalise
from geotool.learn.geodesy import haversine_km
from geotool.learn.train import TrainParams, _specs, train
from geotool.partition.build import BuildParams, build_partitioning
from geotool.synth.photos import generate_photos
from geotool.synth.world import generate_world
from geotool.vocab.concepts import load_vocabulary

ROOT = Path(__file__).resolve().parent.parent
RADII = (1, 25, 200, 750, 2500)
DATASET, SET = "cmp", "cmp_semp"


def build_planet(url: str, workdir: Path, world_seed: int, photos: int, size: int) -> Path:
    engine = sa.create_engine(url)
    world = workdir / "world"
    if not (world / "world.json").is_file():
        generate_world(world_seed, 6, world)
    photo_dir = workdir / "photos"
    if not (photo_dir / "all.csv").is_file():
        generate_photos(world, photos, size, photo_dir, seed=world_seed, overwrite=True)
    ingest_file(photo_dir / "all.csv", DATASET, engine=engine)
    load_boundaries(engine, read_boundaries(world / "boundaries.geojson"), "world")
    geocode(engine, GeocodeParams(DATASET, "boundaries", GeocoderOptions(database_url=url),
                                  details=False))
    build_partitioning(engine, BuildParams(name=SET, dataset=DATASET, taus=(10, 25, 50)))
    return photo_dir


def _test_batches(arrays: Any, cfg: Any) -> Any:
    _, spec = _specs(cfg)
    dataset = LabelledImages(arrays, spec)
    for rows in ValBatches(len(arrays), 128):
        batch = batch_pixels(collate([dataset[r] for r in rows]), spec.size,
                             torch.device("cpu"))
        yield batch, normalise(batch.images, torch.device("cpu"), False)


def ladder(km: np.ndarray) -> dict[str, float]:
    out = {f"acc_{r}km": float((km <= r).mean()) for r in RADII}
    out["median_km"] = float(np.median(km))
    return out


def climate_truth(photo_dir: Path) -> dict[str, str]:
    doc = json.loads((photo_dir / "photos.json").read_text(encoding="utf-8"))
    return {str(p["id"]): str(p["climate"]) for p in doc["photos"]}


@torch.no_grad()
def evaluate_align(engine: Any, checkpoint: Path, photo_dir: Path
                   ) -> tuple[dict[str, float], dict[str, Any]]:
    model, meta = load_align_checkpoint(checkpoint)
    cfg = load_train_config(None, **{k: v for k, v in meta["config"].items()
                                     if k not in ("name",)}, name="eval")
    with engine.connect() as conn:
        train_rows = read_align_rows(conn, DATASET, "train").arrays
        test_all = read_align_rows(conn, DATASET, "test")
        test_rows = test_all.arrays
    gallery = torch.from_numpy(np.unique(np.stack([train_rows.lat, train_rows.lon], 1),
                                         axis=0)).float()
    gallery_emb = encode_gallery(model, gallery)
    kms, tops, rows_all = [], [], []
    for batch, x in _test_batches(test_rows, cfg):
        emb = model.encode_image(x)
        best = (emb @ gallery_emb.T).argmax(1)
        pred = gallery[best].double().numpy()
        rows = batch.rows.numpy()
        kms.append(haversine_km(test_rows.lat[rows], test_rows.lon[rows], pred[:, 0],
                                pred[:, 1]))
        tops.append(model.concept_scores(emb).numpy())
        rows_all.append(rows)
    km = np.concatenate(kms)
    scores = np.concatenate(tops)
    names = list(meta["concept_names"])
    measure = concept_measure(km, scores, names, meta["config"]["concept_vocab"])
    # the climate concepts against the photos' true climate band (image side; GPS side at
    # the true coordinates)
    truth_of = climate_truth(photo_dir)
    rows = np.concatenate(rows_all)
    truth = np.array([truth_of.get(test_all.external_ids[r], "") for r in rows])
    cols = [i for i, n in enumerate(names) if n.endswith(" climate")]
    if cols:
        def band(s: np.ndarray) -> np.ndarray:
            return np.array([names[cols[i]].split()[0] for i in s[:, cols].argmax(1)])
        gps = model.concept_scores(model.encode_gps(torch.from_numpy(
            np.stack([test_rows.lat[rows], test_rows.lon[rows]], 1)).float())).numpy()
        measure["climate_acc_image"] = float((band(scores) == truth).mean())
        measure["climate_acc_gps"] = float((band(gps) == truth).mean())
        measure["climate_majority"] = float(max(np.mean(truth == c) for c in set(truth)))
    return ladder(km), measure


def concept_measure(km: np.ndarray, scores: np.ndarray, names: list[str],
                    vocab_name: str) -> dict[str, Any]:
    """Top image-side mask concept of correctly placed photos: designed-informative or not."""
    vocab = load_vocabulary(vocab_name)
    masks = [i for i, c in enumerate(vocab.concepts) if c.mask]
    informative = {i for i in masks if vocab.concepts[i].informative}
    out: dict[str, Any] = {}
    top_mask = np.asarray(masks)[scores[:, masks].argmax(1)]
    top_any = scores.argmax(1)
    for radius in (25, 200):
        ok = km <= radius
        n = int(ok.sum())
        inf = int(sum(1 for t in top_mask[ok] if t in informative))
        out[f"correct_{radius}km"] = n
        out[f"informative_share_{radius}km"] = inf / n if n else float("nan")
        counts = Counter(names[t] for t in top_mask[ok])
        out[f"top_concepts_{radius}km"] = dict(counts.most_common(5))
        out[f"top_any_{radius}km"] = dict(Counter(names[t] for t in top_any[ok]).most_common(5))
    out["informative_share_all"] = float(np.mean([t in informative for t in top_mask]))
    return out


@torch.no_grad()
def evaluate_classifier(engine: Any, checkpoint: Path) -> dict[str, float]:
    loaded = load_model(checkpoint)
    cfg = load_train_config(None, **{k: v for k, v in loaded.config.items() if k != "name"},
                            name="eval")
    with engine.connect() as conn:
        test_rows = read_align_rows(conn, DATASET, "test").arrays
    fine = loaded.classes.levels[0]
    kms = []
    for batch, x in _test_batches(test_rows, cfg):
        pred = loaded.model(x)[0].argmax(1).numpy()
        rows = batch.rows.numpy()
        kms.append(haversine_km(test_rows.lat[rows], test_rows.lon[rows], fine.lat[pred],
                                fine.lon[pred]))
    return ladder(np.concatenate(kms))


def most_frequent(engine: Any) -> dict[str, float]:
    with engine.connect() as conn:
        train_classes = [r[0] for r in conn.execute(sa.text(
            "SELECT classes[1] FROM geotool_labels(:s, 'train')"), {"s": SET})]
        top = Counter(c for c in train_classes if c is not None).most_common(1)[0][0]
        lat, lon = conn.execute(sa.text(
            "SELECT c.lat, c.lon FROM cells c JOIN partitionings p ON p.id = c.partitioning_id "
            "JOIN partitioning_sets s ON s.id = p.set_id WHERE s.name = :s AND p.level = 0 "
            "AND c.class_index = :k"), {"s": SET, "k": top}).one()
        test = read_align_rows(conn, DATASET, "test").arrays
    return ladder(haversine_km(test.lat, test.lon, np.full(len(test), lat),
                               np.full(len(test), lon)))


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for variant in dict.fromkeys(r["variant"] for r in runs):
        mine = [r for r in runs if r["variant"] == variant]
        row = {}
        for key in [f"acc_{r}km" for r in RADII] + ["median_km"]:
            vals = [r["metrics"][key] for r in mine]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            scale = 100 if key.startswith("acc") else 1
            row[key] = f"{scale * statistics.mean(vals):.1f} ± {scale * sd:.1f}"
        out[variant] = row
    return out


def main() -> None:
    from benchmarks.scratch_databases import ScratchDatabases

    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/align-compare"))
    parser.add_argument("--world-seed", type=int, default=23)
    parser.add_argument("--photos", type=int, default=3000)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--config", type=Path, default=ROOT / "training" / "align_synthetic.toml")
    parser.add_argument("--classifier-config", type=Path,
                        default=ROOT / "training" / "synthetic.toml")
    parser.add_argument("--variants", nargs="+",
                        default=["geoclip", "concept", "semp"])
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally: close the server
    args.workdir.mkdir(parents=True, exist_ok=True)
    scratch = ScratchDatabases(Path(tempfile.mkdtemp(prefix="align_cmp_")))
    try:
        url = scratch.fresh()
        engine = sa.create_engine(url)
        t0 = time.monotonic()
        build_planet(url, args.workdir, args.world_seed, args.photos, args.size)
        print(f"planet ready in {time.monotonic() - t0:.0f} s", flush=True)
        variants: dict[str, dict[str, Any]] = {
            "geoclip": dict(concept_lambda=0.0, concept_supervision=0.0), "concept": {},
            "concept_nosup": dict(concept_supervision=0.0),
            "concept_lift": dict(concept_target="lift")}
        runs: list[dict[str, Any]] = []
        for seed in args.seeds:
            for variant in args.variants:
                name = f"{variant}_s{seed}"
                ck = args.workdir / "models" / name
                t1 = time.monotonic()
                extra = {"epochs": args.epochs} if args.epochs else {}
                if variant == "semp":
                    cfg = load_train_config(args.classifier_config, partitions=SET, name=name,
                                            checkpoint_dir=str(ck), seed=seed, **extra)
                    result = train(engine, TrainParams(cfg, force=True))
                    assert result.best_checkpoint is not None
                    metrics = evaluate_classifier(engine, result.best_checkpoint)
                    concepts: dict[str, Any] = {}
                else:
                    cfg = load_train_config(args.config, dataset=DATASET, name=name,
                                            checkpoint_dir=str(ck), seed=seed,
                                            **variants[variant], **extra)
                    result = train(engine, TrainParams(cfg, force=True))
                    assert result.best_checkpoint is not None
                    metrics, concepts = evaluate_align(engine, result.best_checkpoint,
                                                       args.workdir / "photos")
                run = {"variant": variant, "seed": seed, "metrics": metrics,
                       "concepts": concepts, "train_seconds": round(time.monotonic() - t1, 1),
                       "steps": result.steps}
                runs.append(run)
                print(json.dumps(run), flush=True)
        baseline = most_frequent(engine)
        summary = summarise(runs)
        print(json.dumps({"most_frequent": baseline}))
        print(json.dumps(summary, indent=1))
        if args.out:
            args.out.write_text(json.dumps({"runs": runs, "most_frequent": baseline,
                                            "summary": summary}, indent=1))
    finally:
        scratch.close()


if __name__ == "__main__":
    main()
