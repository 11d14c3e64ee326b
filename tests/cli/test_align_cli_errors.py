"""The alignment commands' bad input ends with one line saying what to fix."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from geotool.cli.app import app


def _run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def test_gallery_and_probe_input_errors(db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "swapped.csv"
    bad.write_text("LAT,LON\n10,20\n151.2,-33.9\n", encoding="utf-8")
    empty = tmp_path / "empty.csv"
    empty.write_text("LAT,LON\n", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text("LAT,LON\n10,20\n-33.9,151.2\n", encoding="utf-8")
    for args, expected in (
            (["--csv", str(bad)], "coordinate 2 (151.2, -33.9) is out of range"),
            (["--csv", str(empty)], "the gallery would be empty"),
            (["--csv", str(good), "--dataset", "x"], "exactly one of --csv"),
            (["--dataset", "nope"], "no dataset named 'nope'")):
        code, out = _run("gallery", "load", "--name", "g", *args, "--database-url", db_url)
        assert code == 1 and expected in " ".join(out.split()), out
        assert "Traceback" not in out
    code, out = _run("gallery", "load", "--name", "g", "--csv", str(good),
                     "--database-url", db_url)
    assert code == 0 and "2 points" in out
    code, out = _run("gallery", "list", "--database-url", db_url)
    assert code == 0 and "│ g " in out and "csv" in out
    code, out = _run("probe", "--model", "m", "--target", "income", "--database-url", db_url)
    assert code == 1 and "--target 'income'" in out and "Traceback" not in out
    code, out = _run("predict", "--model", "nope", "--dataset", "x", "--database-url", db_url)
    assert code == 1 and "no model named 'nope'" in out
