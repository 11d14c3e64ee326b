"""How fast prediction runs and how its results are written and evaluated.

Three measurements (each ``--runs`` times, the compared variants alternating in order;
min and median reported):

``inference``  photos/s of the prediction pipeline without the database (decode, resize,
               crop, forward, softmax, combine, flat + hierarchical + top-k answers), five
               crops vs one crop, for ``small_cnn`` (96 px) and ``resnet50`` (224 px,
               random weights), on ``--photos`` JPEGs of 320×240.
``write``      prediction rows/s into ``predictions`` (three levels, flat rows with a
               top-10, hierarchical rows; FKs, generated haversine error and GiST index as
               in the schema): ``copy_rows`` (COPY) on ``--rows`` rows vs ORM
               ``session.add_all`` + commit on ``--orm-rows`` rows (a smaller count: at
               ORM speed a million rows takes many minutes; rows/s is what is compared).
``evaluate``   ``geotool.learn.evaluate.evaluate`` over the ``--rows`` predictions written by
               the last COPY run (ladder + semantic accuracy + most-frequent and oracle
               baselines), in a child process: seconds and peak client RSS, against the
               same on ``--small`` rows, to show the client's memory does not grow.

    .venv/bin/python benchmarks/bench_predict.py --rows 1000000 --orm-rows 20000
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from benchmarks.scratch_databases import ScratchDatabases
from geotool.learn.geodesy import haversine_km

ROOT = Path(__file__).resolve().parents[1]  # the repository: children run from it

LEVELS = (1000, 300, 30)  # cities, states, countries: classes per level, fine -> coarse
TOP_K = 10


def _stats(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


# --------------------------------------------------------------------------- inference
def bench_inference(photos: int, runs: int, batch: int) -> dict[str, Any]:
    import torch
    from PIL import Image

    from geotool.learn.inference import (
        CropTransform,
        answer_from_probs,
        default_resize,
        identity_ancestors,
        level_probabilities,
    )
    from geotool.learn.model import GeoClassifier
    from geotool.learn.predict import load_crops

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    tmp = Path(tempfile.mkdtemp(prefix="bench_predict_"))
    paths = []
    for i in range(photos):
        p = tmp / f"{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(p, quality=90)
        paths.append(str(p))
    out: dict[str, Any] = {"photos": photos, "batch": batch,
                           "torch_threads": torch.get_num_threads()}
    for backbone in ("small_cnn", "resnet50"):
        model = GeoClassifier(backbone, LEVELS).eval()
        ancestors = identity_ancestors(LEVELS)
        n = photos if backbone == "small_cnn" else max(8, photos // 4)
        timings: dict[int, list[float]] = {5: [], 1: []}
        for run in range(runs):
            for crops in ((5, 1) if run % 2 == 0 else (1, 5)):
                transform = CropTransform(model.image_size, default_resize(model.image_size),
                                          crops)
                start = time.perf_counter()
                for s in range(0, n, batch):
                    tensor, _, _ = load_crops(paths[s:s + batch], transform)
                    assert tensor is not None
                    probs = level_probabilities(model, tensor, "mean")
                    answer_from_probs(probs, ancestors, TOP_K)
                timings[crops].append(n / (time.perf_counter() - start))
        out[backbone] = {"photos": n, "five_crops_img_s": _stats(timings[5]),
                         "one_crop_img_s": _stats(timings[1]),
                         "ratio_median": statistics.median(timings[1])
                         / statistics.median(timings[5])}
        print(backbone, json.dumps(out[backbone]), flush=True)
    return out


# --------------------------------------------------------------------------- data
def prepare(url: str, n_images: int) -> dict[str, int]:
    """A dataset of test photos with addresses (city > state > country), a three-level set
    whose cells are those places, a model row and a prediction run."""
    eng = sa.create_engine(url)
    n_city, n_state, n_country = LEVELS
    with eng.begin() as conn:
        ds = conn.execute(sa.text(
            "INSERT INTO datasets (name) VALUES ('bench') RETURNING id")).scalar_one()
        conn.execute(sa.text(
            "INSERT INTO locations (osm_key, osm_type, osm_id, name, rank_address, "
            "admin_level, geom, centroid) "
            "SELECT 'R' || g, 'R', g, 'place ' || g, "
            "       CASE WHEN g <= :nc THEN 4 WHEN g <= :nc + :ns THEN 8 ELSE 16 END, "
            "       CASE WHEN g <= :nc THEN 2 WHEN g <= :nc + :ns THEN 4 ELSE 8 END, "
            "       ST_MakeEnvelope(g % 360 - 180, -1, g % 360 - 179, 1, 4326), "
            "       ST_SetSRID(ST_MakePoint(g % 360 - 179.5, 0), 4326) "
            "FROM generate_series(1, :n) g"),
            {"nc": n_country, "ns": n_state, "n": n_country + n_state + n_city})
        set_id = conn.execute(sa.text(
            "INSERT INTO partitioning_sets (name, scheme, dataset_id) "
            "VALUES ('bench_set', 'semantic', :d) RETURNING id"), {"d": ds}).scalar_one()
        # location ids: countries 1..nc, states nc+1..nc+ns, cities after
        offsets = {0: n_country + n_state, 1: n_country, 2: 0}
        for level, n in enumerate(LEVELS):
            pid = conn.execute(sa.text(
                "INSERT INTO partitionings (set_id, level, name, n_classes) "
                "VALUES (:s, :l, :n, :c) RETURNING id"),
                {"s": set_id, "l": level, "n": f"bench_l{level}", "c": n}).scalar_one()
            conn.execute(sa.text(
                "INSERT INTO cells (partitioning_id, class_index, location_id, n_images, "
                "lat, lon, label) "
                "SELECT :p, g, l.id, 1 + (g * 7919) % 1000, "
                "       ((g * 37) % 170) - 85 + 0.5, ((g * 101) % 360) - 180 + 0.5, l.name "
                "FROM generate_series(0, :n - 1) g JOIN locations l ON l.osm_id = g + 1 + :off"),
                {"p": pid, "n": n, "off": offsets[level]})
        conn.execute(sa.text(
            "INSERT INTO hierarchy_nodes (set_id, location_id, parent_id, depth) "
            "SELECT :s, l.id, CASE WHEN l.osm_id <= :nc THEN NULL "
            "  WHEN l.osm_id <= :nc + :ns THEN 1 + (l.osm_id - :nc - 1) % :nc "
            "  ELSE :nc + 1 + (l.osm_id - :nc - :ns - 1) % :ns END, 0 FROM locations l"),
            {"s": set_id, "nc": n_country, "ns": n_state})
        conn.execute(sa.text(
            "INSERT INTO images (dataset_id, external_id, split, lat, lon) "
            "SELECT :d, 'img' || g, 'test', ((g * 7) % 17000) / 100.0 - 85, "
            "       ((g * 13) % 36000) / 100.0 - 180 FROM generate_series(1, :n) g"),
            {"d": ds, "n": n_images})
        conn.execute(sa.text(
            "INSERT INTO image_addresses (image_id, position, location_id) "
            "SELECT i.id, v.pos, CASE v.pos WHEN 0 THEN :nc + :ns + 1 + i.id % :nci "
            "  WHEN 1 THEN :nc + 1 + (i.id % :nci) % :ns ELSE 1 + ((i.id % :nci) % :ns) % :nc "
            "  END FROM images i CROSS JOIN (VALUES (0), (1), (2)) v(pos)"),
            {"nc": n_country, "ns": n_state, "nci": n_city})
        conn.execute(sa.text(
            "INSERT INTO image_classes (set_id, image_id, cell_ids) "
            "SELECT :s, i.id, ARRAY[c0.id, c1.id, c2.id] FROM images i "
            "JOIN partitionings p0 ON p0.set_id = :s AND p0.level = 0 "
            "JOIN partitionings p1 ON p1.set_id = :s AND p1.level = 1 "
            "JOIN partitionings p2 ON p2.set_id = :s AND p2.level = 2 "
            "JOIN cells c0 ON c0.partitioning_id = p0.id AND c0.class_index = i.id % :nci "
            "JOIN cells c1 ON c1.partitioning_id = p1.id "
            "     AND c1.class_index = (i.id % :nci) % :ns "
            "JOIN cells c2 ON c2.partitioning_id = p2.id "
            "     AND c2.class_index = ((i.id % :nci) % :ns) % :nc"),
            {"s": set_id, "nc": n_country, "ns": n_state, "nci": n_city})
        model_id = conn.execute(sa.text(
            "INSERT INTO models (name, set_id, arch) VALUES ('bench_model', :s, 'small_cnn') "
            "RETURNING id"), {"s": set_id}).scalar_one()
        run_id = conn.execute(sa.text(
            "INSERT INTO prediction_runs (model_id, crops, combine, top_k, resize, image_size) "
            "VALUES (:m, 5, 'mean', :k, 256, 224) RETURNING id"),
            {"m": model_id, "k": TOP_K}).scalar_one()
        conn.execute(sa.text("ANALYZE"))
    eng.dispose()
    return {"dataset_id": ds, "set_id": set_id, "run_id": run_id}


def prediction_rows(url: str, run_id: int, n_rows: int, seed: int = 0
                    ) -> Iterator[tuple[Any, ...]]:
    """``n_rows`` rows: per photo three flat rows with a top-10 and three hier rows."""
    eng = sa.create_engine(url)
    with eng.connect() as conn:
        cells = [np.array(conn.execute(sa.text(
            "SELECT c.id, c.lat, c.lon FROM cells c JOIN partitionings p "
            "ON p.id = c.partitioning_id WHERE p.level = :l ORDER BY c.class_index"),
            {"l": level}).all()) for level in range(len(LEVELS))]
        images = conn.execute(sa.text(
            "SELECT id, lat, lon FROM images ORDER BY id LIMIT :n"),
            {"n": -(-n_rows // (2 * len(LEVELS)))}).all()
    eng.dispose()
    rng = np.random.default_rng(seed)
    made = 0
    for image_id, lat, lon in images:
        for level, table in enumerate(cells):
            top = rng.choice(len(table), TOP_K, replace=False)
            probs = np.sort(rng.dirichlet(np.ones(TOP_K)))[::-1]
            for mode in ("flat", "hier"):
                if made == n_rows:
                    return
                c = int(top[0])
                error = float(haversine_km(table[c, 1], table[c, 2], lat, lon))
                yield (run_id, image_id, mode, level, int(table[c, 0]), c, float(probs[0]),
                       float(table[c, 1]), float(table[c, 2]), lat, lon,
                       top.tolist() if mode == "flat" else None,
                       [round(float(p), 6) for p in probs] if mode == "flat" else None,
                       error)
                made += 1


def _truncate(url: str) -> None:
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        conn.execute(sa.text("TRUNCATE predictions"))
    eng.dispose()


def write_copy(url: str, rows: list[tuple[Any, ...]]) -> float:
    from geotool.db.copy import copy_rows
    from geotool.learn.predict import PREDICTION_COLUMNS, PREDICTION_TYPES

    eng = sa.create_engine(url)
    start = time.perf_counter()
    with eng.begin() as conn:
        for s in range(0, len(rows), 50_000):
            copy_rows(conn, "predictions", PREDICTION_COLUMNS, rows[s:s + 50_000],
                      PREDICTION_TYPES)
    seconds = time.perf_counter() - start
    eng.dispose()
    return seconds


def write_orm(url: str, rows: list[tuple[Any, ...]]) -> float:
    from sqlalchemy.orm import Session

    from geotool.db.tables import Prediction
    from geotool.learn.predict import PREDICTION_COLUMNS

    eng = sa.create_engine(url)
    start = time.perf_counter()
    with Session(eng) as session:
        for s in range(0, len(rows), 5_000):
            session.add_all(Prediction(**dict(zip(PREDICTION_COLUMNS, r, strict=True)))
                            for r in rows[s:s + 5_000])
            session.commit()
    seconds = time.perf_counter() - start
    eng.dispose()
    return seconds


def bench_write(url: str, run_id: int, n_rows: int, orm_rows: int, runs: int
                ) -> dict[str, Any]:
    rows = list(prediction_rows(url, run_id, n_rows))
    orm = rows[:orm_rows]
    rates: dict[str, list[float]] = {"copy": [], "orm": []}
    order: list[tuple[str, Callable[[str, list[tuple[Any, ...]]], float],
                      list[tuple[Any, ...]]]] = [("copy", write_copy, rows),
                                                 ("orm", write_orm, orm)]
    for run in range(runs):
        for name, fn, data in (order if run % 2 == 0 else order[::-1]):
            _truncate(url)
            seconds = fn(url, data)
            rates[name].append(len(data) / seconds)
            print(f"write {name} run {run}: {len(data):,} rows in {seconds:.2f} s "
                  f"({len(data) / seconds:,.0f} rows/s)", flush=True)
    # leave the full COPY result in place for the evaluation benchmark
    _truncate(url)
    write_copy(url, rows)
    return {"rows": n_rows, "orm_rows": orm_rows,
            "copy_rows_s": _stats(rates["copy"]), "orm_rows_s": _stats(rates["orm"]),
            "ratio_median": statistics.median(rates["copy"]) / statistics.median(rates["orm"])}


# --------------------------------------------------------------------------- evaluate
def _memory_mb(field: str) -> float:
    """VmRSS / VmHWM of this process in MiB (VmHWM resets at exec; ru_maxrss does not)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _evaluate_child(url: str) -> None:
    from geotool.learn.evaluate import EvaluateParams, evaluate

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    before = _memory_mb("VmRSS")
    start = time.perf_counter()
    table = evaluate(engine, EvaluateParams(("bench_model",), "bench", "test",
                                            random_baseline=False))
    seconds = time.perf_counter() - start
    peak = _memory_mb("VmHWM")
    print(json.dumps({"seconds": seconds, "rss_before_mb": before,
                      "peak_rss_mb": peak, "rows": len(table.frame),
                      "n_images": int(table.frame.n_images.max())}))


def bench_evaluate(url: str, runs: int) -> dict[str, Any]:
    results = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-m", "benchmarks.bench_predict", "_evaluate", url],
                             check=True, capture_output=True, text=True, cwd=ROOT).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        print("evaluate", results[-1], flush=True)
    return {"seconds": _stats([r["seconds"] for r in results]),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
            "rss_before_mb": max(r["rss_before_mb"] for r in results),
            "n_images": results[0]["n_images"]}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "_evaluate":
        _evaluate_child(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--orm-rows", type=int, default=20_000)
    ap.add_argument("--small", type=int, default=100_000)
    ap.add_argument("--photos", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", choices=("inference", "write", "evaluate"), action="append")
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    args = ap.parse_args()
    only = set(args.only or ("inference", "write", "evaluate"))
    results: dict[str, Any] = {}
    if "inference" in only:
        results["inference"] = bench_inference(args.photos, args.runs, args.batch)
    if only & {"write", "evaluate"}:
        scratch = ScratchDatabases(Path(tempfile.mkdtemp(prefix="bench_predict_db_")))
        try:
            n_images = -(-args.rows // (2 * len(LEVELS)))
            url = scratch.fresh()
            ids = prepare(url, n_images)
            if "write" in only:
                results["write"] = bench_write(url, ids["run_id"], args.rows, args.orm_rows,
                                               args.runs)
            else:
                write_copy(url, list(prediction_rows(url, ids["run_id"], args.rows)))
            if "evaluate" in only:
                results["evaluate"] = bench_evaluate(url, args.runs)
                small = scratch.fresh()
                small_ids = prepare(small, -(-args.small // (2 * len(LEVELS))))
                write_copy(small, list(prediction_rows(small, small_ids["run_id"],
                                                       args.small)))
                results["evaluate_small"] = bench_evaluate(small, 1)
        finally:
            scratch.close()
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
