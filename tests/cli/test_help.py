"""Every command has help that says what it does and shows an example (sqlite-utils style)."""

from __future__ import annotations

from typing import Any

import typer
from typer.main import get_command
from typer.testing import CliRunner

from geotool.cli.app import COMMANDS, app


def _is_group(cmd: Any) -> bool:
    return hasattr(cmd, "commands")


def _walk(cmd: Any, path: list[str]) -> list[list[str]]:
    found = [path]
    if _is_group(cmd):
        for name, sub in cmd.commands.items():
            found += _walk(sub, [*path, name])
    return found


def test_every_registered_module_is_mounted() -> None:
    root = get_command(app)
    assert _is_group(root)
    assert {name for _, name, _ in COMMANDS} <= set(root.commands)


def test_every_command_has_help_with_example() -> None:
    root = get_command(app)
    runner = CliRunner()
    paths = _walk(root, [])
    assert len(paths) > 5
    for path in paths:
        res = runner.invoke(app, [*path, "--help"])
        assert res.exit_code == 0, (path, res.output)
        cmd: Any = root
        for name in path:
            cmd = cmd.commands[name]
        text = (cmd.help or "").strip()
        assert text, f"`geotool {' '.join(path)}` has no help text"
        assert "Example" in text and "geotool" in text, (
            f"`geotool {' '.join(path)}` help lacks an example"
        )


def test_version() -> None:
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and "geotool" in res.output


_ = typer  # typer is the CLI framework under test


def test_docs_cli_reference_is_current() -> None:
    from pathlib import Path

    from geotool.cli.docs import render_cli_docs

    committed = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    assert committed == render_cli_docs(), (
        "docs/cli.md is stale: run `python -m geotool.cli.docs > docs/cli.md`"
    )
