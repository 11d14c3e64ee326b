"""``pip install .`` (not editable) gives a working geotool: the wheel carries ``sql/``,
``migrations/`` and ``alembic.ini``, and ``geotool db upgrade`` and ``geotool build`` run
from the installed copy against a test database.

The fresh virtual environment gets geotool from the wheel only; its dependencies come from
the current environment's site-packages through a ``.pth`` line (nothing is downloaded).
A ``.pth`` line only adds a folder to ``sys.path``: the editable install's finder that
lives there is not activated, and the checkout is not on the path (no PYTHONPATH, the
commands run from a temporary folder).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from support.partition_data import load_world, polygon_world

from geotool.db.migrate import head_revision
from geotool.partition.build import BuildParams, build_partitioning

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
CELLS = ("SELECT p.level, c.class_index, l.osm_key, c.n_images, c.label FROM cells c "
         "JOIN partitionings p ON p.id = c.partitioning_id "
         "LEFT JOIN locations l ON l.id = c.location_id ORDER BY 1, 2")


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_wheel_installs_and_runs(tmp_path: Path, empty_db_url: str, db_url: str) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PIP_FIND_LINKS", "VIRTUAL_ENV"}}
    # build from a copy of the checkout, so the build leaves nothing in the repository
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests",
        "benchmarks", ".gl"))
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-q", "-w", str(wheels), str(source)], tmp_path, env)
    (wheel,) = wheels.glob("geotool-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in ("geotool/_resources/alembic.ini", "geotool/_resources/migrations/env.py",
                    "geotool/_resources/migrations/versions/0001_foundation_schema.py",
                    "geotool/_resources/sql/partition/hierarchy.sql"):
        assert shipped in names, shipped
    assert not any(n.startswith(("sql/", "migrations/", "tests/")) for n in names)

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
          "--no-index", "-q", str(wheel)], tmp_path, env)
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                      "['purelib'])"], tmp_path, env).stdout.strip())
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    where = _run([str(python), "-c", "import geotool, geotool.db.resources as r; "
                  "print(geotool.__file__); print(r.resource_root())"], tmp_path, env)
    package_file, root = where.stdout.split()
    assert Path(package_file).is_relative_to(site), package_file
    assert Path(root) == site / "geotool" / "_resources"

    geotool = str(venv / "bin" / "geotool")
    engine = sa.create_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            assert "runs" not in sa.inspect(conn).get_table_names()  # nothing of geotool yet
        _run([geotool, "db", "upgrade", "--database-url", empty_db_url], tmp_path, env)
        with engine.connect() as conn:
            revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            assert {"runs", "images", "cells"} <= set(sa.inspect(conn).get_table_names())
        assert revision == head_revision()  # the wheel's migrations end where the checkout's do
        with engine.begin() as conn:
            load_world(conn, polygon_world())
        built = _run([geotool, "build", "--name", "semp", "--tau", "3", "--database-url",
                      empty_db_url], tmp_path, env)
        assert "labels_semp" in built.stdout
        with engine.connect() as conn:
            cells = conn.execute(sa.text(CELLS)).all()
            status = conn.execute(sa.text("SELECT status FROM runs_status")).scalars().all()
    finally:
        engine.dispose()
    assert status == ["done"]
    # the same build by the checkout's code, in-process: the same cells
    reference = sa.create_engine(db_url)
    try:
        with reference.begin() as conn:
            load_world(conn, polygon_world())
        build_partitioning(reference, BuildParams(name="semp", taus=(3,)))
        with reference.connect() as conn:
            expected = conn.execute(sa.text(CELLS)).all()
    finally:
        reference.dispose()
    assert len(cells) == 3 and [tuple(r) for r in cells] == [tuple(r) for r in expected]
