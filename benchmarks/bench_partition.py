"""How fast SemP({50, 75, 100}) builds inside PostgreSQL, against plain pandas.

In one run, on a fresh database holding ``--images`` (default 1,000,000) synthetic
training images with address vectors over a random 5-level hierarchy (country > state >
city > district > POI; 30 % of vectors start at the district, 5 % skip the city, 1 %
swap district and city, so parents have rivals; a swap never outnumbers the true order,
so this data has no cycles: cycle breaking is covered by tests/partition/test_semantic.py):
- ``sql``: ``build_partitioning`` (geotool build) — hierarchy, classes, labels, spherical
  and plain means, hull/OSM geometries, label texts, ancestors, label view, QGIS views;
- ``pandas``: the same algorithm written plainly with pandas for this benchmark, with the
  same output (read with ``read_sql``; compute hierarchy, counts, classes, labels, means,
  hulls with shapely, label texts and ancestors; write every table the SQL build writes
  with COPY, then create the label view and refresh the QGIS views);
- ``sql`` again on ``--small`` images (default 100,000) in its own database: the client's
  peak RSS should not grow with the data (bounded client memory).
Each measurement runs in a fresh child process (peak RSS from ``resource.getrusage``).
The two implementations' outputs are compared table by table (``compare``).

Protocol (fair by construction): every measurement runs on its own copy of the loaded
database (``CREATE DATABASE … TEMPLATE``), so both sides start from the same state and do
the same work (each refreshes the QGIS views over its own set); SQL and pandas alternate
in order over ``--runs`` runs; min and median are reported with the client's peak RSS
(the server's memory is not measured). pandas writes every table with COPY, the large
ones (hierarchy edges, image classes) as one CSV text built column-wise.

    .venv/bin/python benchmarks/bench_partition.py --images 1000000 --small 100000 --runs 3
"""

from __future__ import annotations

import argparse
import io
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from benchmarks.scratch_databases import ScratchDatabases
from geotool.db.urls import libpq_url

ROOT = Path(__file__).resolve().parents[1]  # the repository: children run from it

TAUS = (50, 75, 100)
FAN = (30, 8, 15, 8, 5)  # countries, states/country, cities/state, districts/city, POIs
RANK = (4, 8, 16, 20, 30)
ADMIN = (2, 4, 8, 10, None)
TYPE = "RRRWN"


def libpq(url: str) -> str:
    return libpq_url(url)


# --------------------------------------------------------------------------- data
def load(url: str, n_images: int, seed: int = 0) -> None:
    """Write the synthetic hierarchy and address vectors with COPY (streamed in chunks)."""
    rng = np.random.default_rng(seed)
    counts = np.cumprod(FAN)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    with psycopg.connect(libpq(url)) as pg, pg.cursor() as cur:
        cur.execute("INSERT INTO datasets (id, name) OVERRIDING SYSTEM VALUE "
                    "VALUES (1, 'bench')")
        with cur.copy("COPY locations (id, osm_key, osm_type, name, rank_address, "
                      "admin_level) FROM STDIN") as cp:
            for level, n in enumerate(counts):
                for k in range(int(n)):
                    lid = int(offsets[level]) + k + 1
                    cp.write_row((lid, f"{TYPE[level]}{lid}", TYPE[level],
                                  f"L{level}-{k}", RANK[level], ADMIN[level]))
        n_poi = int(counts[-1])
        chunk = 200_000
        with cur.copy("COPY images (id, dataset_id, external_id, split, lat, lon) "
                      "FROM STDIN") as cp:
            for start in range(0, n_images, chunk):
                m = min(chunk, n_images - start)
                poi = (n_poi * rng.random(m) ** 3).astype(np.int64)
                lat = ((poi * 7919) % 1700) / 10.0 - 85.0 + rng.normal(0, 0.05, m)
                lon = ((poi * 104729) % 3500) / 10.0 - 175.0 + rng.normal(0, 0.05, m)
                lat = np.clip(lat, -89.9, 89.9)
                for k in range(m):
                    i = start + k + 1
                    cp.write_row((i, 1, f"b{i}", "train", float(lat[k]), float(lon[k])))
        rng = np.random.default_rng(seed)  # same POIs again, for the address vectors
        with cur.copy("COPY image_addresses (image_id, position, location_id) "
                      "FROM STDIN") as cp:
            for start in range(0, n_images, chunk):
                m = min(chunk, n_images - start)
                poi = (n_poi * rng.random(m) ** 3).astype(np.int64)
                rng.normal(0, 0.05, m)
                rng.normal(0, 0.05, m)
                noise = rng.random((m, 3))
                for k in range(m):
                    idx = [int(poi[k])]
                    for f in FAN[:0:-1]:
                        idx.append(idx[-1] // f)
                    ids = [int(offsets[4 - j]) + idx[j] + 1 for j in range(5)]
                    if noise[k, 0] < 0.3:
                        ids = ids[1:]
                    if noise[k, 1] < 0.05:
                        ids = [x for x in ids if x < offsets[2] + 1 or x > offsets[3]]
                    if noise[k, 2] < 0.01 and len(ids) >= 4:
                        ids[-4], ids[-3] = ids[-3], ids[-4]
                    for pos, loc in enumerate(ids):
                        cp.write_row((start + k + 1, pos, loc))
        pg.commit()
    # as autovacuum would leave them: visibility and hint bits set, statistics fresh, so
    # neither implementation pays for the first full read of freshly loaded rows
    with psycopg.connect(libpq(url), autocommit=True) as pg:
        pg.execute("VACUUM (FREEZE, ANALYZE)")


# --------------------------------------------------------------------------- children
def run_sql(url: str) -> dict[str, Any]:
    import sqlalchemy as sa

    from geotool.partition.build import BuildParams, build_partitioning

    engine = sa.create_engine(url)
    summary = build_partitioning(engine, BuildParams(name="semp_bench", taus=TAUS,
                                                     dataset="bench"))
    engine.dispose()
    return {"classes": [lv.n_classes for lv in summary.levels]}


def run_pandas(url: str) -> dict[str, Any]:
    """SemP written plainly with pandas (the benchmark's baseline), same output as SQL.

    It writes everything ``geotool build`` writes for a semantic set: the hierarchy
    (``hierarchy_edges``, ``hierarchy_nodes``), per τ the cells with class index, image
    count, spherical and plain means, label text and geometry (OSM polygon or buffered
    convex hull, via shapely), one ``image_classes`` row per labelled image, the
    ``cell_ancestors`` across levels, the label view and the QGIS views.
    """
    import pandas as pd
    import shapely
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        addr = pd.read_sql(sa.text(
            "SELECT a.image_id, a.position, a.location_id FROM image_addresses a "
            "JOIN images i ON i.id = a.image_id WHERE i.dataset_id = 1 AND "
            "i.split = 'train'"), conn)
        locs = pd.read_sql(sa.text(
            "SELECT id, osm_key, coalesce(rank_address, 0) AS rank, rank_address AS raw_rank, "
            "coalesce(admin_level, 0) AS admin, coalesce(name_en, name, osm_key) AS text, "
            "CASE WHEN ST_Dimension(geom) = 2 THEN ST_AsEWKB(geom) END AS polygon "
            "FROM locations"), conn).set_index("id")
        imgs = pd.read_sql(sa.text(
            "SELECT id AS image_id, lat, lon FROM images WHERE dataset_id = 1 "
            "AND split = 'train'"), conn)
    # hierarchy: edges, each child's preferred parent, cycles broken at the weakest edge
    addr = addr.sort_values(["image_id", "position"])
    addr["parent"] = addr.groupby("image_id")["location_id"].shift(-1)
    pairs = addr.dropna(subset=["parent"])
    pairs = pairs[pairs["parent"] != pairs["location_id"]]
    edges = pairs.groupby(["location_id", "parent"]).size().rename("n").reset_index()
    edges["parent"] = edges["parent"].astype(np.int64)
    ranked = edges.join(locs[["osm_key", "rank", "admin", "raw_rank"]], on="parent")
    ranked["key_bytes"] = ranked["osm_key"].map(str.encode)
    # strictly coarser parent (both ranks known): NaN compares False
    ranked["coarser"] = ranked["raw_rank"].lt(ranked["location_id"].map(locs["raw_rank"]))
    ranked = ranked.sort_values(["location_id", "n", "coarser", "rank", "admin", "key_bytes"],
                                ascending=[True, False, False, False, False, True])
    best = ranked.drop_duplicates("location_id")
    nodes = pd.Index(addr["location_id"].unique())
    parent = dict(zip(best["location_id"], best["parent"], strict=True))
    parent_n = dict(zip(best["location_id"], best["n"], strict=True))
    order = {r.location_id: (-r.n, not r.coarser, -r.rank, -r.admin, r.key_bytes)
             for r in best.itertuples()}
    seen: set[int] = set()
    cycles: list[list[int]] = []
    for start in nodes:
        trail: list[int] = []
        cur: int | None = int(start)
        while cur is not None and cur not in seen and cur not in trail:
            trail.append(cur)
            cur = parent.get(cur)
        if cur is not None and cur in trail:
            cycles.append(trail[trail.index(cur):])
        seen.update(trail)

    def reaches(start: int, target: int) -> bool:
        walked: set[int] = set()
        at: int | None = start
        while at is not None and at not in walked:
            if at == target:
                return True
            walked.add(at)
            at = parent.get(at)
        return False

    broken: set[int] = set()
    keys = locs["osm_key"]
    for cycle in sorted(cycles, key=lambda c: min(keys[m].encode() for m in c)):
        weakest = max(cycle, key=lambda m: order[m])
        broken.add(weakest)
        del parent[weakest]
        cands = ranked[ranked["location_id"] == weakest]
        for cand, n in zip(cands["parent"], cands["n"], strict=True):
            if not reaches(int(cand), weakest):
                parent[weakest], parent_n[weakest] = int(cand), n
                break
    closure = pd.DataFrame({"node": nodes, "ancestor": nodes, "dist": 0})
    frontier = closure
    while True:
        up = frontier.assign(ancestor=frontier["ancestor"].map(parent)).dropna()
        if up.empty:
            break
        up = up.assign(ancestor=up["ancestor"].astype(np.int64), dist=up["dist"] + 1)
        closure = pd.concat([closure, up])
        frontier = up
    anchor = addr.drop_duplicates("image_id")[["image_id", "location_id"]]
    finest = anchor.groupby("location_id").size().rename("n")
    count = closure.join(finest, on="node").groupby("ancestor")["n"].sum()
    node_table = pd.DataFrame({
        "location_id": nodes,
        "parent_id": nodes.map(parent),
        "parent_edge_count": [parent_n[x] if x in parent else None for x in nodes],
        "cycle_broken": nodes.isin(list(broken)),
        "depth": closure.groupby("node")["dist"].max().reindex(nodes).to_numpy(),
        "n_finest": finest.reindex(nodes, fill_value=0).to_numpy(),
        "n_images": count.reindex(nodes, fill_value=0).astype(np.int64).to_numpy(),
    })
    imgs = imgs.merge(anchor, on="image_id")
    rad_lat, rad_lon = np.radians(imgs["lat"]), np.radians(imgs["lon"])
    imgs["x"] = np.cos(rad_lat) * np.cos(rad_lon)
    imgs["y"] = np.cos(rad_lat) * np.sin(rad_lon)
    imgs["z"] = np.sin(rad_lat)
    result = []
    labels: dict[int, pd.Series] = {}  # level -> cell id by image id
    cell_index: dict[int, pd.Series] = {}  # level -> class index by cell id
    level_pid: dict[int, int] = {}
    with engine.begin() as conn:
        set_id = conn.execute(sa.text(
            "INSERT INTO partitioning_sets (name, scheme, dataset_id) "
            "VALUES ('pandas_bench', 'semantic', 1) RETURNING id")).scalar_one()
        pg = conn.connection.driver_connection
        with pg.cursor() as cur:
            buffer = io.StringIO()
            edges.assign(set_id=set_id)[["set_id", "location_id", "parent", "n"]].to_csv(
                buffer, index=False, header=False)
            with cur.copy("COPY hierarchy_edges (set_id, child_id, parent_id, n) "
                          "FROM STDIN (FORMAT csv)") as cp:
                cp.write(buffer.getvalue())
            with cur.copy("COPY hierarchy_nodes (set_id, location_id, parent_id, "
                          "parent_edge_count, cycle_broken, depth, n_finest, n_images) "
                          "FROM STDIN") as cp:
                for r in node_table.itertuples(index=False):
                    cp.write_row((set_id, r.location_id,
                                  None if math.isnan(r.parent_id) else int(r.parent_id),
                                  None if r.parent_edge_count is None
                                  or math.isnan(r.parent_edge_count)
                                  else int(r.parent_edge_count),
                                  bool(r.cycle_broken), int(r.depth), int(r.n_finest),
                                  int(r.n_images)))
        for level, tau in enumerate(TAUS):
            qual = count[count >= tau].index
            cls = (closure[closure["ancestor"].isin(qual)].sort_values(["node", "dist"])
                   .drop_duplicates("node").set_index("node")["ancestor"])
            lab = imgs.assign(cls=imgs["location_id"].map(cls)).dropna(subset=["cls"])
            lab["cls"] = lab["cls"].astype(np.int64)
            g = lab.groupby("cls").agg(n=("image_id", "size"), x=("x", "mean"),
                                       y=("y", "mean"), z=("z", "mean"),
                                       lat_plain=("lat", "mean"), lon_plain=("lon", "mean"))
            g["lat"] = np.degrees(np.arctan2(g["z"], np.hypot(g["x"], g["y"])))
            g["lon"] = np.degrees(np.arctan2(g["y"], g["x"]))
            g = g.join(locs[["osm_key", "polygon"]])
            g["key_bytes"] = g["osm_key"].map(str.encode)
            g = g.sort_values("key_bytes")
            g["class_index"] = np.arange(len(g))
            # geometry: the OSM polygon, else the buffered convex hull of the images
            lab["code"] = g["class_index"].reindex(lab["cls"]).to_numpy()
            lab = lab.sort_values("code")
            codes = lab["code"].to_numpy()
            points = shapely.multipoints(shapely.points(lab["lon"], lab["lat"]),
                                         indices=codes)
            hulls = shapely.normalize(shapely.buffer(shapely.convex_hull(points), 0.001))
            hull_wkb = shapely.to_wkb(shapely.set_srid(hulls, 4326), hex=True,
                                      include_srid=True)
            is_osm = g["polygon"].notna().to_numpy()
            g["source"] = np.where(is_osm, "osm", "hull")
            g["geom"] = [bytes(p).hex() if osm else h
                         for osm, p, h in zip(is_osm, g["polygon"], hull_wkb, strict=True)]
            # label text: the names on the class location's path, finest first
            path = closure[closure["node"].isin(g.index)].sort_values(["node", "dist"])
            g["label"] = path.join(locs["text"], on="ancestor").groupby("node")["text"].agg(
                ", ".join)
            pid = conn.execute(sa.text(
                "INSERT INTO partitionings (set_id, level, name, tau, n_classes) "
                "VALUES (:s, :l, :n, :t, :k) RETURNING id"),
                {"s": set_id, "l": level, "n": f"tau_{tau}", "t": tau, "k": len(g)}
            ).scalar_one()
            level_pid[level] = pid
            with pg.cursor() as cur:
                with cur.copy("COPY cells (partitioning_id, class_index, location_id, "
                              "n_images, lat, lon, lat_plain, lon_plain, label, geom, "
                              "geom_source) FROM STDIN") as cp:
                    for loc, r in g.iterrows():
                        cp.write_row((pid, int(r.class_index), int(loc), int(r.n), r.lat,
                                      r.lon, r.lat_plain, r.lon_plain, r.label, r.geom,
                                      r.source))
                cell_ids = pd.Series(dict(cur.execute(
                    "SELECT location_id, id FROM cells WHERE partitioning_id = %s",
                    (pid,)).fetchall()))
            labels[level] = pd.Series(lab["cls"].map(cell_ids).to_numpy(),
                                      index=lab["image_id"].to_numpy())
            cell_index[level] = pd.Series(g["class_index"].to_numpy(),
                                          index=cell_ids.reindex(g.index).to_numpy())
            result.append(len(g))
        # one image_classes row per labelled image: its cell per level (None = no class)
        table = pd.DataFrame(labels).sort_index()
        # one COPY of a CSV text built column-wise (no per-row Python calls)
        cells_text = pd.Series("{", index=table.index)
        for k, level in enumerate(table.columns):
            part = table[level].map(lambda c: "NULL" if math.isnan(c) else str(int(c)))
            cells_text = cells_text + ("," if k else "") + part
        frame = pd.DataFrame({"set_id": set_id, "image_id": table.index,
                              "cell_ids": (cells_text + "}").to_numpy()})
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, header=False)
        with pg.cursor() as cur, cur.copy(
                "COPY image_classes (set_id, image_id, cell_ids) FROM STDIN (FORMAT csv)") as cp:
            cp.write(buffer.getvalue())
        # ancestors: each fine cell's most frequent coarse cell among its images (ties
        # to the lowest class index; none when its images have no coarse class)
        with pg.cursor() as cur, cur.copy(
                "COPY cell_ancestors (cell_id, ancestor_partitioning_id, ancestor_cell_id) "
                "FROM STDIN") as cp:
            for fine in range(len(TAUS)):
                for coarse in range(fine + 1, len(TAUS)):
                    pair = table[[fine, coarse]].dropna().astype(np.int64)
                    votes = pair.groupby([fine, coarse]).size().rename("n").reset_index()
                    votes["idx"] = votes[coarse].map(cell_index[coarse])
                    votes = votes.sort_values([fine, "n", "idx"],
                                              ascending=[True, False, True])
                    winner = votes.drop_duplicates(fine).set_index(fine)[coarse]
                    for cell in cell_index[fine].index:
                        up = winner.get(cell)
                        cp.write_row((int(cell), level_pid[coarse],
                                      None if up is None else int(up)))
        conn.execute(sa.text("SELECT geotool_create_label_view(:id)"), {"id": set_id})
        conn.execute(sa.text("REFRESH MATERIALIZED VIEW qgis_cells"))
        conn.execute(sa.text("REFRESH MATERIALIZED VIEW qgis_cell_centres"))
    engine.dispose()
    return {"classes": result}


def child(kind: str, url: str) -> dict[str, Any]:
    start = time.perf_counter()
    info = run_sql(url) if kind == "sql" else run_pandas(url)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"kind": kind, "seconds": seconds, "peak_rss_mb": peak_kb / 1024, **info}


SETS = "JOIN partitioning_sets {a} ON {a}.name = 'semp_bench' JOIN partitioning_sets {b} " \
    "ON {b}.name = 'pandas_bench'"


def compare(url: str) -> str:
    """Do both sets hold the same output (hierarchy, cells, labels, ancestors)?"""
    sets = SETS.format(a="sa", b="sb")
    checks = {
        "hierarchy_edges": "SELECT count(*) FROM (SELECT child_id, parent_id, n FROM "
        "hierarchy_edges e JOIN partitioning_sets s ON s.id = e.set_id WHERE s.name IN "
        "('semp_bench', 'pandas_bench') GROUP BY 1, 2, 3 HAVING count(*) <> 2) x",
        "hierarchy_nodes": "SELECT count(*) FROM (SELECT location_id, parent_id, "
        "parent_edge_count, cycle_broken, depth, n_finest, n_images FROM hierarchy_nodes h "
        "JOIN partitioning_sets s ON s.id = h.set_id WHERE s.name IN ('semp_bench', "
        "'pandas_bench') GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING count(*) <> 2) x",
        "cells": f"SELECT count(*) FROM partitionings pa {sets} JOIN partitionings pb "
        "ON pb.set_id = sb.id AND pb.level = pa.level "
        "JOIN cells a ON a.partitioning_id = pa.id "
        "LEFT JOIN cells b ON b.partitioning_id = pb.id AND b.location_id = a.location_id "
        "WHERE pa.set_id = sa.id AND (a.id IS NULL OR b.id IS NULL "
        "OR a.class_index <> b.class_index OR a.n_images <> b.n_images "
        "OR abs(a.lat - b.lat) > 1e-9 OR abs(a.lon - b.lon) > 1e-9 "
        "OR abs(a.lat_plain - b.lat_plain) > 1e-9 OR abs(a.lon_plain - b.lon_plain) > 1e-9 "
        "OR a.label IS DISTINCT FROM b.label OR a.geom_source <> b.geom_source "
        "OR ST_HausdorffDistance(a.geom, b.geom) > 1e-9)",
        "cell count": "SELECT count(DISTINCT n) - 1 FROM (SELECT s.name, count(*) AS n "
        "FROM cells c JOIN partitionings p ON p.id = c.partitioning_id JOIN "
        "partitioning_sets s ON s.id = p.set_id WHERE s.name IN ('semp_bench', "
        "'pandas_bench') GROUP BY s.name) x",
        "image labels": "WITH l AS (SELECT s.name, p.level, il.image_id, c.location_id "
        "FROM image_labels il JOIN cells c ON c.id = il.cell_id JOIN partitionings p ON "
        "p.id = il.partitioning_id JOIN partitioning_sets s ON s.id = p.set_id), "
        "a AS (SELECT level, image_id, location_id FROM l WHERE name = 'semp_bench'), "
        "b AS (SELECT level, image_id, location_id FROM l WHERE name = 'pandas_bench') "
        "SELECT (SELECT count(*) FROM (TABLE a EXCEPT TABLE b) x) "
        "+ (SELECT count(*) FROM (TABLE b EXCEPT TABLE a) y)",
        "cell ancestors": "SELECT count(*) FROM (SELECT fp.level, f.location_id, ap.level, "
        "a.location_id FROM cell_ancestors x JOIN cells f ON f.id = x.cell_id "
        "JOIN partitionings fp ON fp.id = f.partitioning_id "
        "JOIN partitionings ap ON ap.id = x.ancestor_partitioning_id "
        "LEFT JOIN cells a ON a.id = x.ancestor_cell_id "
        "JOIN partitioning_sets s ON s.id = fp.set_id WHERE s.name IN ('semp_bench', "
        "'pandas_bench') GROUP BY 1, 2, 3, 4 HAVING count(*) <> 2) x",
    }
    with psycopg.connect(libpq(url)) as pg:
        n_cells = pg.execute("SELECT count(*) FROM cells c JOIN partitionings p ON "
                             "p.id = c.partitioning_id JOIN partitioning_sets s ON "
                             "s.id = p.set_id AND s.name = 'semp_bench'").fetchone()
        bad = {name: row[0] for name, query in checks.items()
               if (row := pg.execute(query).fetchone()) and row[0]}
    if bad:
        return f"DIFFERENT: {bad}"
    return (f"identical ({n_cells[0] if n_cells else 0:,} cells: classes, counts, means, "
            "labels texts, geometries; hierarchy; image labels; ancestors)")


# --------------------------------------------------------------------------- parent
def measure(kind: str, url: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_partition", "--child", kind,
                          "--url", url], check=True, capture_output=True, text=True, cwd=ROOT)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", choices=["sql", "pandas"])
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.url)))
        return
    runs: dict[str, list[dict[str, Any]]] = {"sql": [], "pandas": [], "sql_small": []}
    with tempfile.TemporaryDirectory(prefix="bench-partition-", dir="/tmp") as tmp_name:
        dbs = ScratchDatabases(Path(tmp_name), "geotool_bench_part")
        try:
            big, small = dbs.fresh(), dbs.fresh()
            t0 = time.perf_counter()
            load(big, args.images)
            load(small, args.small, seed=1)
            print(f"synthetic data loaded in {time.perf_counter() - t0:.1f} s")
            # every measurement on its own copy of the loaded database (same starting
            # state, same work: each refreshes the QGIS views over its own set only),
            # the order of SQL and pandas alternated from run to run
            for run in range(args.runs):
                order = ["sql", "pandas"] if run % 2 == 0 else ["pandas", "sql"]
                for kind in order:
                    runs[kind].append(measure(kind, dbs.copy_of(big)))
                runs["sql_small"].append(measure("sql", dbs.copy_of(small)))
            both = dbs.copy_of(big)
            measure("sql", both)
            measure("pandas", both)
            verdict = compare(both)
        finally:
            dbs.close()
    sizes = {"sql": args.images, "pandas": args.images, "sql_small": args.small}
    print(f"{'measurement':<12}{'images':>11}{'runs':>6}{'min s':>8}{'median s':>10}"
          f"{'images/s':>11}{'client peak RSS MB':>20}  classes")
    summary: dict[str, dict[str, float]] = {}
    for kind, results in runs.items():
        times = [r["seconds"] for r in results]
        rss = max(r["peak_rss_mb"] for r in results)
        summary[kind] = {"min": min(times), "median": statistics.median(times), "rss": rss}
        print(f"{kind:<12}{sizes[kind]:>11,}{len(times):>6}{min(times):>8.1f}"
              f"{statistics.median(times):>10.1f}{sizes[kind] / min(times):>11,.0f}"
              f"{rss:>20.1f}  {results[0]['classes']}")
    sql_big, pandas_big = summary["sql"], summary["pandas"]
    print(f"SQL vs pandas on {args.images:,} images: pandas/SQL time "
          f"{pandas_big['min'] / sql_big['min']:.2f}x (min), "
          f"{pandas_big['median'] / sql_big['median']:.2f}x (median); client memory "
          f"{pandas_big['rss'] / sql_big['rss']:.1f}x")
    print(f"SQL client peak RSS {args.images:,} / {args.small:,} images: "
          f"{sql_big['rss'] / summary['sql_small']['rss']:.2f}")
    print(f"outputs: {verdict}")


if __name__ == "__main__":
    main()
