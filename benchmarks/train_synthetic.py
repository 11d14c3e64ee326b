"""Measure training/synthetic.toml on a demo-sized synthetic planet (not a timed test).

Builds the demo's world (seed 7, 6 countries) and 3,000 photos at 128 px, ingests them,
geocodes them against the world's own boundaries (``--geocoder boundaries``: the same
administrative areas the demo's Nominatim returns, without its streets and landmarks, so
no Nominatim import is needed), builds SemP τ = 10, 25, 50 and S2 (img_min 10, img_max
400/200/100) as the demo does, then trains the config on both sets and prints the
validation accuracy per level beside the most-frequent-class baseline of the val split.

    python benchmarks/train_synthetic.py --workdir /tmp/synth-train [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from geotool.db.engine import database_url, get_engine
from geotool.db.migrate import upgrade
from geotool.geocode.boundaries import load_boundaries, read_boundaries
from geotool.geocode.pipeline import GeocodeParams, geocode
from geotool.geocode.registry import GeocoderOptions
from geotool.ingest.load import IngestParams, ingest_file
from geotool.learn.config import load_train_config
from geotool.learn.train import TrainParams, train
from geotool.partition.build import BuildParams, build_partitioning
from geotool.synth.photos import generate_photos
from geotool.synth.world import generate_world

ROOT = Path(__file__).resolve().parent.parent


def build_planet(url: str, workdir: Path, photos: int, size: int) -> None:
    engine = get_engine(url)
    with engine.connect() as conn:
        have = conn.execute(sa.text("SELECT count(*) FROM partitioning_sets WHERE name IN "
                                    "('demo_semp', 'demo_s2')")).scalar_one()
    if have == 2:
        return
    world = workdir / "world"
    if not (world / "world.json").is_file():
        generate_world(7, 6, world)
    photo_dir = workdir / "photos"
    if not (photo_dir / "all.csv").is_file():
        generate_photos(world, photos, size, photo_dir, seed=7, overwrite=True)
    ingest_file(engine, IngestParams(photo_dir / "all.csv", "demo"))
    load_boundaries(engine, read_boundaries(world / "boundaries.geojson"), "world")
    geocode(engine, GeocodeParams("demo", "boundaries", GeocoderOptions(database_url=url),
                                  details=False))
    build_partitioning(engine, BuildParams(name="demo_semp", dataset="demo",
                                           taus=(10, 25, 50)))
    build_partitioning(engine, BuildParams(name="demo_s2", scheme="s2", dataset="demo",
                                           img_min=10, img_maxes=(400, 200, 100)))


def baseline(url: str, set_name: str) -> list[float]:
    """Most-frequent-class accuracy per level on val (the most frequent train class)."""
    with get_engine(url).connect() as conn:
        rows = {split: [r[0] for r in conn.execute(sa.text(
            "SELECT classes FROM geotool_labels(:s, :sp)"), {"s": set_name, "sp": split})]
            for split in ("train", "val")}
    out = []
    for k in range(len(rows["train"][0])):
        train_counts = Counter(c[k] for c in rows["train"] if c[k] is not None)
        top = train_counts.most_common(1)[0][0]
        val = [c[k] for c in rows["val"] if c[k] is not None]
        out.append(sum(v == top for v in val) / max(len(val), 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/synth-train"))
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--photos", type=int, default=3000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--config", type=Path, default=ROOT / "training" / "synthetic.toml")
    parser.add_argument("--sets", nargs="+", default=["demo_semp", "demo_s2"])
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    url = database_url(args.database_url)
    upgrade(url)
    t0 = time.monotonic()
    build_planet(url, args.workdir, args.photos, args.size)
    print(f"planet ready in {time.monotonic() - t0:.0f} s")
    for set_name in args.sets:
        cfg = load_train_config(args.config, partitions=set_name, name=f"synthetic_{set_name}",
                                checkpoint_dir=str(args.workdir / "models" / set_name))
        t1 = time.monotonic()
        result = train(get_engine(url), TrainParams(cfg, force=True))
        seconds = time.monotonic() - t1
        m = result.best_metrics
        levels = sorted(int(k[5:]) for k in m if k.startswith("acc_l"))
        print(json.dumps({
            "set": set_name, "seconds": round(seconds, 1), "steps": result.steps,
            "images_per_s": round(result.images_seen / seconds, 1),
            "best_val_loss": round(m["loss"], 4),
            "val_accuracy": [round(m[f"acc_l{k}"], 4) for k in levels],
            "most_frequent_class": [round(b, 4) for b in baseline(url, set_name)],
            "km_ladder": {r: round(m[f"acc_{r}km"], 4) for r in (1, 25, 200, 750, 2500)},
        }))


if __name__ == "__main__":
    main()
