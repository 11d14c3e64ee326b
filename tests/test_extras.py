"""Dependencies by use: the data half runs without PyTorch, and a command whose optional
dependency is missing says which extra installs it (instead of breaking the whole CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from geotool.cli.app import add_command
from geotool.errors import MissingExtraError, require_module

REPO = Path(__file__).resolve().parents[1]


def _app_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> typer.Typer:
    (tmp_path / "fake_command.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fake_command", raising=False)
    app = typer.Typer()
    add_command(app, "fake_command", "train", "command")

    @app.command("other")
    def other() -> None:
        """Keeps the app a group of commands."""

    return app


def test_command_without_its_extra_says_which_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails
    app = _app_with(tmp_path, monkeypatch, "import torch\n\ndef train() -> None:\n    pass\n")
    res = CliRunner().invoke(app, ["train", "--epochs", "3", "--set", "semp"])
    assert res.exit_code == 1, res.output
    assert "geotool train needs the Python package 'torch'" in res.output
    assert "pip install 'geotool[ml]'" in res.output
    assert "Traceback" not in res.output
    helped = CliRunner().invoke(app, ["train", "--help"])
    assert helped.exit_code == 0 and "geotool[ml]" in helped.output


def test_an_unknown_missing_module_is_a_bug(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModuleNotFoundError, match="no_such_package_anywhere"):
        _app_with(tmp_path, monkeypatch,
                  "import no_such_package_anywhere\n\ndef train() -> None:\n    pass\n")


def test_require_module_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "captum", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'geotool\[ml\]'") as info:
        require_module("captum", "ml", "geotool concepts")
    assert info.value.extra == "ml" and info.value.module == "captum"
    require_module("numpy", "ml", "anything")  # installed: no error


def test_data_half_runs_without_pytorch() -> None:
    """Every command module loads and the data commands work with torch, torchvision and
    captum made unimportable."""
    code = ("import sys\n"
            "for name in ('torch', 'torchvision', 'captum'):\n"
            "    sys.modules[name] = None\n"
            "import geotool.cli.app, geotool.demo\n"
            "import geotool.ingest.load, geotool.geocode.pipeline, geotool.partition.build\n"
            "import geotool.export.cells, geotool.synth.world\n"
            "assert not any(m.split('.')[0] == 'torch' and sys.modules[m] is not None\n"
            "               for m in sys.modules)\n"
            "sys.argv = ['geotool', '--help']\n"
            "geotool.cli.app.main()\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    for command in ("ingest", "geocode", "build", "export", "runs", "demo"):
        assert command in proc.stdout


def test_a_real_command_without_pytorch_names_the_extra() -> None:
    """Commands import PyTorch only when they run (so `geotool --help` and the data
    commands never load it); run without it, `geotool concepts compute` says what to
    install in one line instead of a traceback."""
    code = ("import sys\n"
            "for name in ('torch', 'torchvision', 'captum'):\n"
            "    sys.modules[name] = None\n"
            "import geotool.cli.app\n"
            "sys.argv = ['geotool', 'concepts', 'compute', '--model', 'm', '--dataset', 'd',\n"
            "            '--database-url', 'postgresql+psycopg://nobody@127.0.0.1:9/none']\n"
            "geotool.cli.app.main()\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    assert "this command needs the Python package 'torch'" in " ".join(proc.stderr.split())
    assert "geotool[ml]" in proc.stderr and "Traceback" not in proc.stderr


def test_the_cli_starts_without_importing_pytorch() -> None:
    code = ("import sys, geotool.cli.app\n"
            "print(sorted(m for m in ('torch', 'captum', 'pandas', 'matplotlib')"
            " if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120,
                          check=True)
    assert proc.stdout.strip() == "[]"
