"""How fast reverse geocoding runs through Nominatim, per point and concurrently.

In one run, on the same points of a synthetic world imported into a fresh local Nominatim:
- baseline: sequential per-point ``NominatimAPI.reverse`` (sync API, one call at a time:
  the paper's way minus HTTP);
- geotool's in-process geocoder (async API, ``--concurrency`` K reverse calls in flight)
  for several K;
- a thread pool over the sync API (one ``NominatimAPI`` per thread);
- HTTP: the same Nominatim v1 endpoints served locally (``geotool.geocode.nominatim.serve``)
  queried by geotool's HTTP geocoder (/reverse + one /details per place), K = 1 and 4;
- the whole ``geocode`` pipeline (cache lookup, DB writes, location details) with
  the in-process geocoder.
Every figure is points/s and a ratio against the baseline measured in the same run. Each
measurement queries its own seeded points (same mix), never points another one queried,
and the variants run ``--runs`` times with the order reversed every other run.

The database server is geotool's private server in a temporary folder.

    .venv/bin/python benchmarks/bench_geocode_inprocess.py --points 2000 --countries 3
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any


def sample_points(world: Any, n: int, seed: int) -> list[tuple[float, float]]:
    """Points near streets/landmarks, in towns and across countries (a third each)."""
    rng = random.Random(seed)
    places = sorted(world.places, key=lambda p: p.key)
    groups = [
        ([p for p in places if p.kind in ("street", "landmark")], 0.004),
        ([p for p in places if p.kind in ("city", "district")], 0.02),
        ([p for p in places if p.kind == "country"], 1.0),
    ]
    pts = []
    for k in range(n):
        group, spread = groups[k % 3]
        p = rng.choice(group)
        pts.append((round(p.lat + rng.uniform(-spread, spread), 6),
                    round(p.lon + rng.uniform(-spread, spread), 6)))
    return pts


def _reverse_all(gc: Any, pts: list[tuple[float, float]]) -> list[Any]:
    return list(gc.reverse_many(pts))


def timed(label: str, n: int, fn: Callable[[], Any], results: dict[str, float]) -> Any:
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    results[label] = n / seconds
    print(f"  {label:<44} {n / seconds:9.1f} points/s  ({seconds:.1f} s)", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--countries", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--concurrency", default="1,4,8")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="geotool-bench-geocode-"))
    os.chmod(tmp, 0o755)
    os.environ["GEOTOOL_HOME"] = str(tmp / "home")
    os.environ["GEOTOOL_SERVER_DIR"] = str(tmp / "server")
    os.environ.pop("GEOTOOL_DATABASE_URL", None)

    import nominatim_api
    import sqlalchemy as sa

    from geotool.db import migrate
    from geotool.db.server import PrivateServer
    from geotool.geocode.nominatim.http import HttpNominatim
    from geotool.geocode.nominatim.inprocess import InProcessNominatim
    from geotool.geocode.nominatim.local import LocalNominatim, import_osm
    from geotool.geocode.nominatim.serve import serve
    from geotool.geocode.pipeline import GeocodeParams, geocode
    from geotool.synth.world import generate_world

    server = PrivateServer(tmp / "server")
    server.start()
    try:
        t0 = time.perf_counter()
        world = generate_world(args.seed, args.countries, tmp / "world")
        local = LocalNominatim(tmp / "project", server.dsn(f"nominatim_b_{uuid.uuid4().hex[:6]}"))
        import_osm(tmp / "world" / "world.osm", local)
        print(f"world ({len(world.places)} places) generated and imported in "
              f"{time.perf_counter() - t0:.0f} s; {args.points} points, "
              f"{os.cpu_count()} CPUs")
        # Fair protocol: every measurement gets its own seeded points of the same mix
        # (no variant replays points another already queried, so none runs on caches
        # warmed for exactly its points), and the variants run --runs times, the order
        # reversed every other run; min and median are reported.
        counter = iter(range(1, 10_000))

        def fresh_points() -> list[tuple[float, float]]:
            return sample_points(world, args.points, args.seed * 1000 + next(counter))

        def sequential() -> None:
            api = nominatim_api.NominatimAPI(local.project_dir, environ=local.environ)
            pts = fresh_points()
            api.reverse(pts[0][::-1], max_rank=30, address_details=True)  # connect
            timed(base, len(pts), lambda: [api.reverse((lon, lat), max_rank=30,
                                                       address_details=True)
                                           for lat, lon in pts], rates)
            api.close()

        def in_process(k: int) -> None:
            with InProcessNominatim(local.environ, local.project_dir, concurrency=k) as gc:
                list(gc.reverse_many(fresh_points()[:10]))
                pts = fresh_points()
                timed(f"geotool in-process async, K={k}", len(pts),
                      partial(_reverse_all, gc, pts), rates)

        def thread_pool() -> None:
            local_apis = threading.local()
            made: list[Any] = []

            def sync_one(p: tuple[float, float]) -> Any:
                if not hasattr(local_apis, "api"):
                    local_apis.api = nominatim_api.NominatimAPI(local.project_dir,
                                                                environ=local.environ)
                    made.append(local_apis.api)
                return local_apis.api.reverse((p[1], p[0]), max_rank=30,
                                              address_details=True)

            with ThreadPoolExecutor(4) as pool:
                list(pool.map(sync_one, fresh_points()[:20]))
                pts = fresh_points()
                timed("thread pool over sync API, 4 threads", len(pts),
                      lambda: list(pool.map(sync_one, pts)), rates)
            for a in made:
                a.close()

        def over_http(k: int) -> None:
            with serve(local.environ, local.project_dir) as http_server, \
                    HttpNominatim(http_server.url, "geotool-bench/1.0", concurrency=k) as h:
                h.check()
                pts = fresh_points()
                timed(f"HTTP /reverse + /details per place, K={k}", len(pts),
                      partial(_reverse_all, h, pts), rates)

        def pipeline() -> None:
            pts = fresh_points()
            name = f"bench{next(counter)}"
            # a fresh geotool database each time: no locations or details from a run before
            server.create_database(name)
            url = server.url(name)
            migrate.upgrade(url)
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                ds = conn.execute(sa.text(
                    "INSERT INTO datasets (name) VALUES (:n) RETURNING id"),
                    {"n": name}).scalar_one()
                conn.execute(sa.text(
                    "INSERT INTO images (dataset_id, external_id, split, lat, lon) "
                    "VALUES (:d, :e, 'train', :lat, :lon)"),
                    [{"d": ds, "e": str(i), "lat": a, "lon": b} for i, (a, b) in enumerate(pts)])
            with InProcessNominatim(local.environ, local.project_dir, concurrency=8) as gc:
                summary = timed("pipeline geocode (K=8, writes, details)", len(pts),
                                lambda: geocode(engine, GeocodeParams(name, batch_size=500),
                                                geocoder=gc),
                                rates)
            print(f"  (pipeline: {summary.details_written} location details fetched)")
            engine.dispose()

        base = "sequential sync reverse (baseline)"
        variants: list[Callable[[], None]] = [sequential]
        variants += [partial(in_process, int(x)) for x in args.concurrency.split(",")]
        variants += [thread_pool, partial(over_http, 1), partial(over_http, 4), pipeline]
        all_rates: dict[str, list[float]] = {}
        for run in range(args.runs):
            print(f"run {run + 1}:")
            rates: dict[str, float] = {}
            for variant in variants if run % 2 == 0 else variants[::-1]:
                variant()
            for label, rate in rates.items():
                all_rates.setdefault(label, []).append(rate)

        print("\npoints/s (best, median over runs) and ratio of medians against the "
              "sequential baseline:")
        base_median = statistics.median(all_rates[base])
        for label, got in all_rates.items():
            print(f"  {label:<48} {max(got):8.1f} {statistics.median(got):8.1f} "
                  f"{statistics.median(got) / base_median:6.2f}x")
    finally:
        server.destroy()


if __name__ == "__main__":
    main()
