"""How fast ``geotool ingest`` loads a plain CSV, and whether its memory stays bounded.

In one run, each measurement in a fresh child process and a fresh database:
- ingest of a ``--rows`` CSV (default 1,000,000) and of a ``--small`` one (100,000):
  rows/s and peak RSS (``resource.getrusage``); bounded memory = the two peaks are
  about equal;
- imports only: the RSS floor of a process that imported the same modules;
- baseline 1, the naive way: pandas ``read_csv`` + ``DataFrame.to_sql`` (no checks) on
  the small file;
- baseline 2, the floor: the file's bytes straight into a table with ``COPY ... CSV``
  (no parsing in Python, no checks) on the small file.
Ratios against the baselines make figures comparable across (loaded) machines.

The database server is geotool's private server in a temporary folder, or the admin
URL in ``GEOTOOL_BENCH_DATABASE_URL`` (a PostGIS server that allows CREATE DATABASE).

    .venv/bin/python benchmarks/bench_ingest.py --rows 1000000 --small 100000
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.scratch_databases import ScratchDatabases
from geotool.db.urls import libpq_url

ROOT = Path(__file__).resolve().parents[1]  # the repository: children run from it


def write_csv(path: Path, n: int, seed: int = 0) -> None:
    """A plain CSV ``id,lat,lon,path`` of ``n`` random rows (deterministic for a seed)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("id,lat,lon,path\n")
        for i in range(n):
            fh.write(f"{i:08d}_{rng.getrandbits(32):08x}.jpg,{rng.uniform(-90, 90):.6f},"
                     f"{rng.uniform(-180, 180):.6f},img/{i % 1000:03d}/{i}.jpg\n")


# --------------------------------------------------------------------------- children
def child(kind: str, file: str, url: str) -> dict[str, Any]:
    """One measurement inside this (fresh) process."""
    from geotool.db.engine import get_engine
    from geotool.ingest.load import IngestParams, ingest_file

    start = time.perf_counter()
    rows = 0
    if kind == "ingest":
        rows = ingest_file(get_engine(url), IngestParams(file, "bench", split="train")).loaded
    elif kind == "pandas":
        import pandas as pd
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        df = pd.read_csv(file)
        df = df.rename(columns={"id": "external_id"})
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO datasets (name) VALUES ('bench')"))
            df["dataset_id"] = conn.execute(sa.text("SELECT id FROM datasets")).scalar_one()
            df["split"] = "train"
            df.to_sql("images", conn, if_exists="append", index=False, chunksize=10_000)
            rows = len(df)
        engine.dispose()
    elif kind == "copy":
        dsn = libpq_url(url)
        with psycopg.connect(dsn) as pg, pg.cursor() as cur:
            cur.execute("CREATE UNLOGGED TABLE raw_copy (id text, lat float8, lon float8, "
                        "path text)")
            with cur.copy("COPY raw_copy FROM STDIN (FORMAT csv, HEADER true)") as cp, \
                    open(file, "rb") as fh:
                while block := fh.read(1 << 20):
                    cp.write(block)
            counted = cur.execute("SELECT count(*) FROM raw_copy").fetchone()
            rows = int(counted[0]) if counted else 0
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"kind": kind, "rows": rows, "seconds": seconds, "peak_rss_mb": peak_kb / 1024}


# --------------------------------------------------------------------------- parent
def measure(kind: str, file: Path, url: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_ingest", "--child", kind,
                          "--file", str(file), "--url", url], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--child", choices=["ingest", "pandas", "copy", "imports"])
    parser.add_argument("--file", default="")
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    if args.child:
        if args.child == "imports":
            import geotool.ingest.load  # noqa: F401

            result = {"kind": "imports", "rows": 0, "seconds": 0.0, "peak_rss_mb":
                      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        else:
            result = child(args.child, args.file, args.url)
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory(prefix="bench-ingest-", dir="/tmp") as tmp_name:
        tmp = Path(tmp_name)
        dbs = ScratchDatabases(tmp, "geotool_bench")
        try:
            big, small = tmp / "big.csv", tmp / "small.csv"
            write_csv(big, args.rows)
            write_csv(small, args.small, seed=1)
            results = [measure("imports", small, "")]
            for kind, file in (("ingest", big), ("ingest", small), ("pandas", small),
                               ("copy", small)):
                results.append(measure(kind, file, dbs.fresh()))
        finally:
            dbs.close()

    print(f"{'measurement':<28}{'rows':>10}{'seconds':>9}{'rows/s':>10}{'peak RSS MB':>13}")
    for r in results:
        rate = r["rows"] / r["seconds"] if r["seconds"] else 0.0
        print(f"{r['kind']:<28}{r['rows']:>10,}{r['seconds']:>9.2f}{rate:>10,.0f}"
              f"{r['peak_rss_mb']:>13.1f}")
    imports, ing_big, ing_small, pandas, copy = results
    rate = {k: r["rows"] / r["seconds"] for k, r in
            (("big", ing_big), ("small", ing_small), ("pandas", pandas), ("copy", copy))}
    print(f"ingest {args.small:,} rows vs pandas read_csv+to_sql: "
          f"{rate['small'] / rate['pandas']:.2f}x the speed")
    print(f"ingest {args.small:,} rows vs raw COPY of the file (floor): "
          f"{rate['small'] / rate['copy']:.2f}x the speed")
    print(f"peak RSS {args.rows:,} rows / {args.small:,} rows: "
          f"{ing_big['peak_rss_mb'] / ing_small['peak_rss_mb']:.2f} "
          f"(imports alone: {imports['peak_rss_mb']:.1f} MB)")
    print(f"rows/s {args.rows:,} rows / {args.small:,} rows: {rate['big'] / rate['small']:.2f}")


if __name__ == "__main__":
    main()
