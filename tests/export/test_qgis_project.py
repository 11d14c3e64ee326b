"""``geotool export qgis``: the project opened in real QGIS 3.22 (PyQGIS, headless).

The project is exported from the viewing planet (support/viewing_planet.py: SemP and S2
sets, a trained model, predictions, concept influence) and opened by the system Python's
PyQGIS in a subprocess (tests/support/qgis_check.py): every layer must be valid, its
feature count must equal the count of the same rows in SQL — for cells and predictions
counted from the base tables, not the views — and the rendered map must show more than
one colour. The project and the styles stored with --in-database are opened too, the
project through a viewer role's service (so the viewer's grants are enough for QGIS).

Set GEOTOOL_DOC_IMAGES=DIR to keep the renders (docs/img/viewing-qgis.png is made so).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support.viewing_planet import ViewingDb, qgis_python
from typer.testing import CliRunner

from geotool.cli.app import app
from geotool.db.viewer import ViewerParams, create_viewer, drop_viewer
from geotool.export.qgis import ExportPathError, QgisParams, export_qgis

pytestmark = pytest.mark.slow  # shares the session's viewing planet (~1 min to build)

CHECK = Path(__file__).resolve().parents[1] / "support" / "qgis_check.py"


@pytest.fixture()
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GEOTOOL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PGSERVICEFILE", str(tmp_path / "pg_service.conf"))
    return tmp_path


def open_in_qgis(project: str, png: Path, *relations: str, keep: bool = False
                 ) -> dict[str, Any]:
    python = qgis_python()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(png.parent))
    env.pop("PYTHONPATH", None)  # the system Python must not see the venv's packages
    proc = subprocess.run([python, str(CHECK), project, str(png), *relations], env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    folder = os.environ.get("GEOTOOL_DOC_IMAGES")
    if keep and folder and png.exists():
        shutil.copy(png, Path(folder) / png.name)
    return report


def _sql_counts(db: ViewingDb) -> dict[tuple[str, int], int]:
    """Cells per (set, level) and test predictions per model, from the base tables."""
    with db.engine().connect() as conn:
        cells = {(s, int(lv)): int(n) for s, lv, n in conn.execute(sa.text(
            "SELECT s.name, p.level, count(*) FROM cells c JOIN partitionings p ON "
            "p.id = c.partitioning_id JOIN partitioning_sets s ON s.id = p.set_id "
            "GROUP BY 1, 2"))}
        for model, n in conn.execute(sa.text(
                "SELECT m.name, count(*) FROM predictions p JOIN prediction_runs r ON "
                "r.id = p.prediction_run_id JOIN models m ON m.id = r.model_id JOIN images i "
                "ON i.id = p.image_id WHERE p.mode = 'hier' AND p.level = 0 AND "
                "i.split = 'test' GROUP BY 1")):
            cells[(f"predictions:{model}", 0)] = int(n)
    return cells


def test_project_opens_in_qgis_with_sql_counts(viewing_db: ViewingDb, homes: Path) -> None:
    out = homes / "viewing.qgz"
    summary = export_qgis(viewing_db.engine(), QgisParams(out))
    assert summary.service_written and out.exists()
    with zipfile.ZipFile(out) as zf:
        (name,) = zf.namelist()
        qgs = zf.read(name).decode()
    url = viewing_db.engine().url
    assert url.password and url.password not in qgs and "password" not in qgs
    assert "service='geotool'" in qgs

    report = open_in_qgis(str(out), homes / "viewing-qgis.png", keep=True)
    assert report["read"]
    layers = report["layers"]
    assert len(layers) == len(summary.layers) >= 8
    counts = _sql_counts(viewing_db)
    engine = viewing_db.engine()
    with engine.connect() as conn:
        for got, want in zip(layers, summary.layers, strict=True):
            assert got["valid"], got
            assert got["service"] == "geotool" and not got["has_password"]
            same_sql = conn.execute(sa.text(
                f'SELECT count(*) FROM "{want.relation}" WHERE {want.filter}')).scalar_one()
            assert got["features"] == same_sql == want.features > 0, got
            assert got["renderer"] == "graduatedSymbol"
    cell_layers = [g for g in layers if g["table"] == "qgis_cells"]
    assert len(cell_layers) == sum(1 for k in counts if not k[0].startswith("predictions"))
    for g in cell_layers:
        set_name, level = g["subset"].split("'")[1], int(g["subset"].rsplit("=", 1)[1])
        assert g["features"] == counts[(set_name, level)]
        assert g["labels"]
    points = [g for g in layers if g["table"] == "qgis_predictions"]
    assert [g["features"] for g in points] == [counts[(f"predictions:{viewing_db.model}", 0)]]
    assert any(g["table"] == "qgis_concept_countries" for g in layers)
    assert report["colours"] > 20, report  # cells, points, lines and labels, not one fill


def test_in_database_project_and_default_styles_for_a_viewer(viewing_db: ViewingDb,
                                                             homes: Path) -> None:
    engine = viewing_db.engine()
    viewer = f"viewer_{uuid.uuid4().hex[:8]}"
    create_viewer(engine, ViewerParams(viewer))
    try:
        name = f"view_{uuid.uuid4().hex[:6]}"
        summary = export_qgis(engine, QgisParams(None, partitions=(viewing_db.view_set,),
                                                 models=(viewing_db.model,), service=viewer,
                                                 in_database=True, project_name=name))
        assert summary.stored_in_database and summary.styles == 4
        report = open_in_qgis(f"postgresql:?service={viewer}&schema=public&project={name}",
                              homes / "viewing-qgis-db.png", "qgis_cells",
                              "qgis_predictions:id", "qgis_prediction_lines:id",
                              "qgis_concept_countries:id")
        assert report["read"] and report["layers"]
        assert all(g["valid"] and g["service"] == viewer for g in report["layers"])
        assert [g["features"] for g in report["layers"]] == [x.features for x in summary.layers]
        # a layer added by hand, as the viewer, gets the stored default style
        assert [(f["valid"], f["renderer"]) for f in report["fresh"]] == \
            [(True, "graduatedSymbol")] * 4, report["fresh"]
        assert report["fresh"][0]["labels"]
    finally:
        drop_viewer(engine, ViewerParams(viewer))


def test_bad_input_is_one_clear_line(viewing_db: ViewingDb, homes: Path) -> None:
    url = viewing_db.engine().url.render_as_string(hide_password=False)
    runner = CliRunner()
    cases = [
        (["--partitions", "no_such_set"], "no partitioning set named 'no_such_set'"),
        (["--model", "no_such_model"], "no_such_model"),
        (["--out", str(homes / "missing" / "p.qgz")], "does not exist"),
        (["--out", str(homes / "p.txt")], "ends in .qgz"),
        (["--service", "nobody"], "no service 'nobody'"),
    ]
    for extra, expected in cases:
        args = ["export", "qgis", "--database-url", url]
        if "--out" not in extra:
            args += ["--out", str(homes / "ok.qgz")]
        result = runner.invoke(app, args + extra)
        lines = [ln for ln in result.output.splitlines() if ln.strip()]
        assert result.exit_code == 1 and len(lines) == 1, (extra, result.output)
        assert expected in lines[0], (extra, lines)
    locked = homes / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root writes anywhere: a file in the way instead
            (homes / "file").write_text("x")
            target = homes / "file" / "p.qgz"
        else:
            target = locked / "p.qgz"
        with pytest.raises((ExportPathError, FileNotFoundError)):
            export_qgis(viewing_db.engine(), QgisParams(target))
    finally:
        locked.chmod(0o700)
