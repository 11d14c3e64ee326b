"""What a new user hits (issue 17): output that is never cut, one-line errors, exit codes,
hints that lead somewhere, help that reads well. Each test failed before its fix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from support.bad_images import png_declaring
from typer.main import get_command
from typer.testing import CliRunner

from geotool.cli.app import app

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------- 1. nothing is cut
def test_tables_are_not_cut_when_stdout_is_a_pipe() -> None:
    code = ("from geotool.cli.common import out, uncut_table\n"
            "t = uncut_table('model', 'prediction', 'level', 'n', 'mean km', 'median km', "
            "'GeoScore', 'top-1', 'top-5')\n"
            "t.add_row('demo_semp_model_with_a_long_name', 'hierarchical', '0', '1,234', "
            "'1,734.5', '1,002.25', '3,312.75', '12.5', '33.3')\n"
            "out.print(t)\n")
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["PYTHONPATH"] = str(REPO)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True, timeout=60)
    assert "…" not in res.stdout
    for cell in ("demo_semp_model_with_a_long_name", "1,734.5", "1,002.25", "3,312.75"):
        assert cell in res.stdout


def test_log_lines_in_a_pipe_are_plain_and_unpadded() -> None:
    code = ("import logging\nfrom geotool.cli.app import _logging\n_logging(1)\n"
            "logging.getLogger('geotool.x').info('hello from the log')\n")
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["PYTHONPATH"] = str(REPO)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True, timeout=60)
    [line] = [ln for ln in res.stderr.splitlines() if "hello from the log" in ln]
    assert line.endswith("INFO geotool.x: hello from the log") and len(line) < 80


def test_numbers_fold_instead_of_being_elided_on_a_narrow_terminal() -> None:
    from rich.console import Console

    from geotool.cli.common import uncut_table

    console = Console(width=30, force_terminal=True, color_system=None)
    t = uncut_table("model", "mean km", "GeoScore")
    t.add_row("demo_semp_model", "1,734.5", "3,312.75")
    with console.capture() as captured:
        console.print(t)
    text = captured.get()
    assert "…" not in text
    digits = re.sub(r"[^0-9]", "", text)
    assert "17345" in digits and "331275" in digits


# ---------------------------------------------------------- 2./3. one-line errors
def test_decompression_bombs_are_one_line_errors(tmp_path: Path) -> None:
    from geotool.errors import GeotoolError
    from geotool.explain.preprocess import open_photo
    from geotool.learn.data import BadImage, decode_image
    from geotool.learn.inference import read_image

    bomb = png_declaring(tmp_path / "bomb.png", 100_000, 100_000)
    with pytest.raises(GeotoolError, match="too large to decode safely"):
        read_image(bomb)
    with pytest.raises(GeotoolError, match="too large to decode safely"):
        open_photo(bomb)
    with pytest.raises(BadImage, match="too large to decode safely"):
        decode_image(bomb.read_bytes(), 64)
    with pytest.raises(BadImage) as info:
        decode_image(b"not an image", 64)
    assert "BytesIO" not in str(info.value)


def test_predict_image_checks_files_before_the_model(db_url: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    res = CliRunner().invoke(app, ["predict-image", str(tmp_path / "missing.jpg"),
                                   str(tmp_path), str(empty), "--model", "nope",
                                   "--database-url", db_url])
    assert res.exit_code == 1, res.output
    assert "no model named" not in res.output  # the model was never looked up
    assert "file not found" in res.output and "is a directory" in res.output
    assert "the file is empty" in res.output and "3 of 3 photo(s)" in res.output
    assert "Traceback" not in res.output


def test_export_to_a_missing_folder_is_one_line(db_url: str) -> None:
    for args in (["cells", "semp"], ["predictions", "--model", "m"]):
        res = CliRunner().invoke(app, ["export", *args, "--out", "/missing/dir/x.gpkg",
                                       "--database-url", db_url])
        assert res.exit_code == 1, res.output
        assert "the folder /missing/dir does not exist" in res.output
        assert "Traceback" not in res.output and len(res.output.strip().splitlines()) <= 2


# ------------------------------------------------------------ 4. --split all
def test_evaluate_split_all_says_what_to_do(db_url: str) -> None:
    from geotool.cli.predict import predict_summary_line
    from geotool.learn.predict import PredictSummary

    res = CliRunner().invoke(app, ["evaluate", "--model", "m", "--split", "all",
                                   "--database-url", db_url])
    assert res.exit_code == 1 and "one split at a time" in res.output
    line = predict_summary_line(PredictSummary("m", 1, predicted=5), "m", "d", "all")
    assert "geotool evaluate --model m --split test" in line  # a command that works


# ----------------------------------------------------------- 6. --retry-failed
def test_predict_summary_points_to_retry_failed() -> None:
    from geotool.cli.predict import predict_summary_line
    from geotool.learn.predict import PredictSummary

    rerun = PredictSummary("m", 1, already_done=10, failed_before=2)
    line = predict_summary_line(rerun, "m", "d", "test")
    assert "--retry-failed" in line and "2 in this run" in line
    clean = PredictSummary("m", 1, predicted=10)
    assert "--retry-failed" not in predict_summary_line(clean, "m", "d", "test")


# ---------------------------------------------- 7. the private server's hint
def test_database_error_hint_fits_the_private_server(monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg
    from sqlalchemy import exc as sa_exc

    from geotool.cli.common import database_error_message
    from geotool.db import engine

    error = sa_exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("refused"))
    monkeypatch.setitem(engine._SOURCE, "source", "private")
    private = database_error_message(error)
    assert private is not None and "geotool db up" in private
    assert "GEOTOOL_DATABASE_URL" not in private
    monkeypatch.setitem(engine._SOURCE, "source", "given")
    given = database_error_message(error)
    assert given is not None and "--database-url / GEOTOOL_DATABASE_URL" in given


# -------------------------------------------------------------- 8. the rest
def test_database_url_before_the_command(db_url: str, tmp_path: Path) -> None:
    csv = tmp_path / "p.csv"
    csv.write_text("id,lat,lon\na,1.0,2.0\n")
    res = CliRunner().invoke(app, ["--database-url", db_url, "ingest", str(csv),
                                   "--dataset", "a_dataset_with_a_rather_long_name",
                                   "--split", "test"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["--database-url", db_url, "runs"])
    assert res.exit_code == 0, res.output
    assert "a_dataset_with_a_rather_long_name" in res.output  # and not cut (item 1)


def test_header_only_csv_creates_no_dataset(db_url: str, tmp_path: Path) -> None:
    csv = tmp_path / "head.csv"
    csv.write_text("id,lat,lon\n")
    res = CliRunner().invoke(app, ["ingest", str(csv), "--dataset", "hollow", "--split",
                                   "test", "--database-url", db_url])
    assert res.exit_code == 1 and "no data rows" in res.output, res.output
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM datasets WHERE name = 'hollow'"))
        assert n.scalar_one() == 0
    engine.dispose()


def test_runs_shows_the_model_of_predict_and_concepts_rows() -> None:
    from geotool.cli.runs import run_detail

    assert run_detail({}, {"model": "m1", "dataset": "d"}) == "model m1"
    assert run_detail({}, {"name": "semp"}) == "semp"
    assert run_detail({"error": "boom"}, {"model": "m1"}) == "boom"


def _paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n\n") if p.strip()]


def test_help_has_no_hard_line_breaks_and_flags_show_no_type() -> None:
    root = get_command(app)

    def walk(cmd: object, path: list[str]) -> list[tuple[list[str], object]]:
        found = [(path, cmd)]
        for name, sub in getattr(cmd, "commands", {}).items():
            found += walk(sub, [*path, name])
        return found

    commands = walk(root, [])
    for path, cmd in commands:
        for para in _paragraphs(getattr(cmd, "help", None) or ""):
            lines = para.splitlines()
            if any(line.lstrip().startswith(("-", "*", "•")) or line.startswith(" ")
                   for line in lines):
                continue
            assert len(lines) == 1, (path, para)
    res = CliRunner().invoke(app, ["demo", "--help"])
    assert "--no-learn" in res.output and "<bool>" not in res.output


def test_export_help_promises_only_what_exists() -> None:
    res = CliRunner().invoke(app, ["export", "--help"])
    assert "predictions (CSV or GeoPackage)" in " ".join(res.output.split())
    res = CliRunner().invoke(app, ["export", "predictions", "--help"])
    assert "geojson" not in res.output.lower() and "mode" in res.output


def test_synth_world_says_countries() -> None:
    from geotool.cli.synth import plural, world_summary

    assert world_summary(Path("w"), {"country": 3, "state": 9, "city": 1}) == \
        "world in w: 3 countries, 9 states, 1 city"
    assert [plural(w, 2) for w in ("county", "city", "district", "way", "box")] == \
        ["counties", "cities", "districts", "ways", "boxes"]
