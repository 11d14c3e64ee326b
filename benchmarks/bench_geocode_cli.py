"""The measured path is the CLI path: ``geotool geocode --geocoder bulk`` end to end.

Runs the real command in a subprocess (start-up, dataset scan, batches through the
pipeline with one write transaction per batch, cache writes, location details) on a
fresh scratch geotool database per run, for each ``--batch-sizes`` value, alternating the
order of the sizes between repeats, and reports points per second (min and median of the
wall time). Points: ``--points`` seeded points in the dense centre of the Helsinki
extract (``--nominatim-dsn`` names its Nominatim import) or, with ``--world DIR``, in the
cities and countries of a synthetic world imported into that Nominatim database.

    GEOTOOL_BENCH_DATABASE_URL=postgresql+psycopg://... \\
    .venv/bin/python benchmarks/bench_geocode_cli.py --nominatim-dsn 'pgsql:...' \\
        --points 20000 --batch-sizes 500 5000 50000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from benchmarks.scratch_databases import ScratchDatabases

ROOT = Path(__file__).resolve().parents[1]


def points_for(args: argparse.Namespace) -> list[tuple[float, float]]:
    if args.world:
        from benchmarks.bench_geocode import world_points
        from geotool.synth.world import load_world

        return world_points(load_world(args.world), args.points, seed=5)
    from tests.support.real_osm import helsinki_points

    return helsinki_points(args.points, seed=5)


def one_run(url: str, dsn: str, points: list[tuple[float, float]], batch: int) -> float:
    """Seconds of one ``geotool geocode`` on a fresh dataset in database ``url``."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        ds = conn.execute(sa.text(
            "INSERT INTO datasets (name) VALUES ('cli') RETURNING id")).scalar_one()
        conn.execute(sa.text(
            "INSERT INTO images (dataset_id, external_id, split, lat, lon) "
            "SELECT :d, 'p' || k, 'train', lat, lon FROM unnest(CAST(:lats AS float8[]), "
            "CAST(:lons AS float8[])) WITH ORDINALITY AS u(lat, lon, k)"),
            {"d": ds, "lats": [p[0] for p in points], "lons": [p[1] for p in points]})
    engine.dispose()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", "from geotool.cli.app import main; main()", "geocode",
               "--dataset", "cli", "--geocoder", "bulk", "--nominatim-dsn", dsn,
               "--batch-size", str(batch), "--database-url", url]
    started = time.monotonic()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nominatim-dsn", required=True)
    parser.add_argument("--world", type=Path, help="a synthetic world directory")
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[500, 5000, 50_000])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    points = points_for(args)
    times: dict[int, list[float]] = {b: [] for b in args.batch_sizes}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = ScratchDatabases(Path(tmp), prefix="geotool_bench_cli")
        try:
            for repeat in range(args.repeats):
                order = args.batch_sizes if repeat % 2 == 0 else args.batch_sizes[::-1]
                for batch in order:
                    times[batch].append(one_run(scratch.fresh(), args.nominatim_dsn,
                                                points, batch))
        finally:
            scratch.close()
    for batch, runs in times.items():
        print(json.dumps({
            "data": "world" if args.world else "helsinki", "points": len(points),
            "batch_size": batch, "runs": len(runs),
            "seconds_min": round(min(runs), 1), "seconds_median": round(statistics.median(runs), 1),
            "points_per_s_best": round(len(points) / min(runs)),
            "points_per_s_median": round(len(points) / statistics.median(runs))}), flush=True)


if __name__ == "__main__":
    main()
