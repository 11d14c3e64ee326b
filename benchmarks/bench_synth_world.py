"""How fast the synthetic world is generated, looked up and (optionally) imported into Nominatim.

Measured in the same run:
- baseline: parsing Nominatim's country grid and unioning the chosen countries' cells, the
  floor of any world built from real country shapes;
- generate: ``generate_world`` for ``--countries`` countries (default 40), files included;
- locate: ``World.locate`` on random points, against a baseline that tests every area with a
  plain point-in-polygon loop (no spatial index) on the same points;
- with ``--nominatim``: the Nominatim import of the generated ``world.osm`` into geotool's
  private server (a database named ``bench_synth_world``, dropped afterwards).

    .venv/bin/python benchmarks/bench_synth_world.py --countries 40 [--nominatim]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import shapely
from shapely import Point

from geotool.synth import country_grid
from geotool.synth.places import AREA_KINDS
from geotool.synth.shapes import random_point_in
from geotool.synth.world import generate_world, select_countries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--countries", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--nominatim", action="store_true", help="also time the import")
    args = parser.parse_args()

    start = time.perf_counter()
    codes = select_countries(args.seed, args.countries)
    for code in codes:
        shapely.union_all(country_grid.load_grid()[code].cells)
    baseline = time.perf_counter() - start
    country_grid.load_grid.cache_clear()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "world"
        start = time.perf_counter()
        world = generate_world(args.seed, args.countries, out)
        generate = time.perf_counter() - start
        sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}

        rng = random.Random(0)
        countries = world.of_kind("country")
        points = []
        while len(points) < args.points:
            point = random_point_in(world.geometry(rng.choice(countries).key), rng)
            if point is not None:
                points.append(point)
        world.locate(points[0].y, points[0].x)  # build the indexes outside the timing
        start = time.perf_counter()
        for point in points:
            world.locate(point.y, point.x)
        locate = time.perf_counter() - start
        areas = [(p, world.geometry(p.key)) for p in world.places if p.kind in AREA_KINDS]
        start = time.perf_counter()
        for point in points[: max(1, args.points // 10)]:
            [p for p, g in areas if g.contains(Point(point.x, point.y))]
        naive = (time.perf_counter() - start) * len(points) / max(1, args.points // 10)

        print(f"world: {args.countries} countries, {len(world.places)} places, "
              + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sizes.items()))
        print(f"baseline (grid parse + union of {len(codes)} countries): {baseline:.2f} s")
        print(f"generate_world: {generate:.2f} s = {generate / baseline:.1f}x baseline")
        print(f"locate: {len(points) / locate:,.0f} points/s; naive point-in-polygon over "
              f"{len(areas)} areas: {len(points) / naive:,.0f} points/s "
              f"(locate is {naive / locate:.1f}x faster)")
        if args.nominatim:
            _time_import(out / "world.osm", Path(tmp) / "project", generate)


def _time_import(osm_file: Path, project_dir: Path, generate: float) -> None:
    from geotool.db.server import PrivateServer
    from geotool.geocode.nominatim.local import LocalNominatim, import_osm

    server = PrivateServer.from_settings()
    server.start()
    local = LocalNominatim(project_dir, server.dsn("bench_synth_world"))
    try:
        record = import_osm(osm_file, local, force=True)
        print(f"nominatim import: {record.seconds:.1f} s = {record.seconds / generate:.1f}x "
              "generate_world")
    finally:
        server.drop_database("bench_synth_world")


if __name__ == "__main__":
    main()
