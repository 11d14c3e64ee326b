"""The partitioning benchmark's pandas baseline, run small, as a second implementation.

``benchmarks/bench_partition.py`` holds a pandas version of SemP written independently of
the SQL build, with the same output (hierarchy tables, cells with means, label texts and
hull geometries, image labels, ancestors). Run on a few thousand synthetic images here,
it keeps the benchmark working and checks the SQL build table by table against it; the
comparison itself is shown to notice a single changed value.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import psycopg
import pytest


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """``benchmarks/bench_partition.py`` as a module (the repository root is on pytest's
    path, see pyproject.toml)."""
    return importlib.import_module("benchmarks.bench_partition")


@pytest.mark.slow
def test_sql_build_equals_pandas_baseline(bench: ModuleType, db_url: str) -> None:
    bench.load(db_url, 4000, seed=3)
    sql = bench.run_sql(db_url)
    pandas = bench.run_pandas(db_url)
    assert sql["classes"] == pandas["classes"]
    assert all(n > 0 for n in sql["classes"])
    verdict = bench.compare(db_url)
    assert verdict.startswith("identical"), verdict

    # the comparison notices one changed label text and one changed ancestor
    with psycopg.connect(bench.libpq(db_url), autocommit=True) as pg:
        pg.execute(
            "UPDATE cells SET label = label || '!' WHERE id = (SELECT min(c.id) FROM cells c "
            "JOIN partitionings p ON p.id = c.partitioning_id JOIN partitioning_sets s "
            "ON s.id = p.set_id AND s.name = 'pandas_bench')")
        pg.execute(
            "UPDATE cell_ancestors SET ancestor_cell_id = NULL WHERE cell_id = (SELECT "
            "min(x.cell_id) FROM cell_ancestors x JOIN cells c ON c.id = x.cell_id JOIN "
            "partitionings p ON p.id = c.partitioning_id JOIN partitioning_sets s ON "
            "s.id = p.set_id AND s.name = 'pandas_bench' WHERE x.ancestor_cell_id IS NOT "
            "NULL)")
    verdict = bench.compare(db_url)
    assert verdict.startswith("DIFFERENT"), verdict
    assert "'cells'" in verdict and "'cell ancestors'" in verdict
