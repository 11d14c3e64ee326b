"""Geocoding speed, measured as ratios within one run on the same points and databases.

1. Per-point sequential in-process ``reverse`` (the paper's way minus HTTP) vs geotool's
   concurrent in-process path vs bulk SQL (``--geocoder bulk``), with the agreement of
   bulk with Nominatim's answers beside it. Per-point runs time a sample of the points
   (``--sample``); bulk runs on all of them (``--points``); rates are compared.
2. Per-point HTTP (a minimal HTTP wrapper around nominatim-api written here, one request
   at a time) vs per-point in-process, the same points.
3. Boundary point-in-polygon (``--geocoder boundaries``): points per minute.

Without arguments it uses what ``geotool demo`` left behind: the demo's world, its local
Nominatim import, and a scratch database ``geotool_bench`` on geotool's private server.
Otherwise name them:

    python benchmarks/bench_geocode.py --world WORLD_DIR --nominatim-dsn 'pgsql:...' \
        --database-url postgresql+psycopg://... [--points 100000 --sample 5000]

(``benchmarks/bench_geocode_inprocess.py`` is the geocode helper's in-process/HTTP study.)
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import sqlalchemy as sa

from geotool.db import migrate
from geotool.geocode.boundaries import (
    BoundaryGeocoder,
    load_boundaries,
    locate_points,
    read_boundaries,
)
from geotool.geocode.nominatim.bulk import BulkNominatim
from geotool.geocode.nominatim.inprocess import InProcessNominatim
from geotool.geocode.types import AddressResult
from geotool.synth.world import World, load_world

Points = list[tuple[float, float]]


def world_points(world: World, n: int, seed: int) -> Points:
    """Half in cities' bounding boxes, half in countries' bounding boxes (with sea)."""
    rng = random.Random(seed)
    cities, countries = world.of_kind("city"), world.of_kind("country")
    bounds = {p.key: world.geometry(p.key).bounds for p in cities + countries}
    out = []
    for i in range(n):
        place = rng.choice(cities if i % 2 == 0 else countries)
        minx, miny, maxx, maxy = bounds[place.key]
        out.append((round(rng.uniform(miny, maxy), 6), round(rng.uniform(minx, maxx), 6)))
    return out


def timed(label: str, run: Callable[[], Any], n: int) -> tuple[Any, float]:
    start = time.perf_counter()
    value = run()
    seconds = time.perf_counter() - start
    print(f"{label:<44} {n:>9,} points {seconds:8.2f} s {n / seconds:>10,.0f} points/s",
          flush=True)
    return value, n / seconds


def keys(results: Sequence[AddressResult]) -> list[tuple[str, tuple[str, ...]]]:
    return [(r.status, tuple(loc.osm_key for loc in r.locations)) for r in results]


def disagreement_kinds(bulk: Sequence[AddressResult], ref: Sequence[AddressResult]) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for (bs, bk), (rs, rk) in zip(keys(bulk), keys(ref), strict=True):
        if (bs, bk) == (rs, rk):
            continue
        if bs != rs:
            kinds[f"status {rs} vs bulk {bs}"] += 1
        elif bk[:1] != rk[:1]:
            kinds["different finest place"] += 1
        else:
            kinds["same finest place, different ancestors"] += 1
    return kinds


# --------------------------------------------------------------------------- HTTP wrapper
def start_http_wrapper(environ: dict[str, str]) -> tuple[ThreadingHTTPServer, str]:
    """A minimal Nominatim-style ``/reverse`` endpoint around the synchronous API."""
    from nominatim_api import NominatimAPI, ReverseResults
    from nominatim_api.v1.format import dispatch

    api = NominatimAPI(None, environ)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            query = parse_qs(urlparse(self.path).query)
            lat, lon = float(query["lat"][0]), float(query["lon"][0])
            with lock:
                result = api.reverse((lon, lat), max_rank=30, address_details=True)
                body = dispatch.format_result(
                    ReverseResults([result] if result else []), "jsonv2",
                    {"addressdetails": True}) if result else '{"error":"Unable to geocode"}'
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def http_per_point(url: str, points: Points) -> list[dict[str, Any]]:
    out = []
    for lat, lon in points:
        with urllib.request.urlopen(
                f"{url}/reverse?format=jsonv2&lat={lat}&lon={lon}&zoom=18&addressdetails=1",
                timeout=30) as response:
            out.append(json.loads(response.read()))
    return out


def inprocess_per_point(api: Any, points: Points) -> list[Any]:
    return [api.reverse((lon, lat), max_rank=30, address_details=True) for lat, lon in points]


# --------------------------------------------------------------------------- main
def defaults_from_demo(args: argparse.Namespace) -> None:
    """Fill unset locations from the demo's world, local Nominatim and private server."""
    from geotool.demo import demo_workdir
    from geotool.geocode.nominatim.local import local_dsn
    from geotool.settings import load_settings

    if args.world is None:
        args.world = str(demo_workdir() / "world")
        if not (demo_workdir() / "world" / "world.json").is_file():
            raise SystemExit("no --world given and no demo world yet: run `geotool demo` first")
    if args.nominatim_dsn is None:
        args.nominatim_dsn = local_dsn()
    if args.database_url is None:
        from geotool.db.server import PrivateServer

        settings = load_settings()
        if settings.database_url:
            raise SystemExit("GEOTOOL_DATABASE_URL is set: pass --database-url explicitly")
        server = PrivateServer.from_settings(settings)
        server.start()
        server.create_database("geotool_bench", postgis=True)
        args.database_url = server.url("geotool_bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", help="synthetic world directory (default: the demo's)")
    parser.add_argument("--nominatim-dsn", help="pgsql:... of its Nominatim DB (default: local)")
    parser.add_argument("--database-url", help="a geotool database (default: geotool_bench)")
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=5_000)
    parser.add_argument("--http-sample", type=int, default=1_000)
    parser.add_argument("--boundary-points", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=8,
                        help="reverse calls in flight for the concurrent path (0: skip it)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip", nargs="*", default=[], choices=["nominatim", "http",
                                                                  "boundaries"])
    args = parser.parse_args()
    defaults_from_demo(args)
    world = load_world(args.world)
    environ = {"NOMINATIM_DATABASE_DSN": args.nominatim_dsn}
    points = world_points(world, args.points, args.seed)
    sample = points[: args.sample]
    print(f"world {args.world}: {len(world.places)} places; 2 CPU cores shared")

    if "nominatim" not in args.skip:
        with BulkNominatim(args.nominatim_dsn) as bulk:
            bulk_all, bulk_rate = timed("bulk SQL (all points)", lambda: list(
                bulk.reverse_many(points)), len(points))
        with InProcessNominatim(environ, concurrency=1) as seq:
            seq_res, seq_rate = timed("per-point sequential in-process (sample)",
                                      lambda: list(seq.reverse_many(sample)), len(sample))
        bulk_sample = bulk_all[: len(sample)]
        reference = seq_res
        print(f"bulk / per-point sequential: {bulk_rate / seq_rate:6.1f}x")
        if args.concurrency > 0:
            with InProcessNominatim(environ, concurrency=args.concurrency) as conc:
                conc_res, conc_rate = timed(
                    f"concurrent in-process x{args.concurrency} (sample)",
                    lambda: list(conc.reverse_many(sample)), len(sample))
            same_ref = sum(a == b for a, b in zip(keys(seq_res), keys(conc_res), strict=True))
            print(f"concurrent / per-point sequential: {conc_rate / seq_rate:6.1f}x")
            print(f"bulk / concurrent: {bulk_rate / conc_rate:6.1f}x")
            print(f"sequential vs concurrent answers equal: {same_ref}/{len(sample)}")
        agree = sum(a == b for a, b in zip(keys(bulk_sample), keys(reference), strict=True))
        print(f"agreement bulk vs in-process: {agree}/{len(sample)} = "
              f"{100 * agree / len(sample):.2f} %")
        print(f"disagreements: {dict(disagreement_kinds(bulk_sample, reference))}")

    if "http" not in args.skip:
        from nominatim_api import NominatimAPI

        http_points = points[: args.http_sample]
        server, url = start_http_wrapper(environ)
        try:
            http_per_point(url, http_points[:20])  # warm up connections
            _, http_rate = timed("per-point HTTP (local wrapper)",
                                 lambda: http_per_point(url, http_points), len(http_points))
        finally:
            server.shutdown()
        api = NominatimAPI(None, environ)
        inprocess_per_point(api, http_points[:20])  # warm up the connection
        _, inproc_rate = timed("per-point in-process (same points)",
                               lambda: inprocess_per_point(api, http_points),
                               len(http_points))
        api.close()
        print(f"in-process / HTTP: {inproc_rate / http_rate:6.2f}x")

    if "boundaries" not in args.skip:
        migrate.upgrade(args.database_url)
        engine = sa.create_engine(args.database_url)
        features = read_boundaries(f"{args.world}/boundaries.geojson")
        load_boundaries(engine, features, "bench_world")
        many = world_points(world, args.boundary_points, args.seed + 1)

        def sql_only() -> int:
            with engine.begin() as conn:
                return sum(1 for ids in locate_points(conn, many) if ids)

        found, sql_rate = timed("boundaries: one SQL join (ids)", sql_only, len(many))
        geocoder = BoundaryGeocoder(engine)
        _, full_rate = timed("boundaries: reverse_many (AddressResults)",
                             lambda: sum(1 for _ in geocoder.reverse_many(many)), len(many))
        print(f"boundaries: {sql_rate * 60:,.0f} points/min SQL, {full_rate * 60:,.0f} "
              f"points/min with results ({found:,} placed); goal 1,000,000/min: "
              f"{sql_rate * 60 / 1e6:.1f}x / {full_rate * 60 / 1e6:.1f}x")
        engine.dispose()


if __name__ == "__main__":
    main()
