"""Render the command reference (docs/cli.md) from the Typer app itself.

``python -m geotool.cli.docs > docs/cli.md`` regenerates it; a test fails when the
committed file and the commands drift apart, so the reference stays true.
"""

from __future__ import annotations

from typing import Any

from typer.main import get_command

from geotool.cli.app import app

HEADER = """# geotool command reference

Generated from the commands' own help by `python -m geotool.cli.docs > docs/cli.md`;
`tests/cli/test_help.py` fails when this file is out of date.
"""


def _params(cmd: Any) -> list[str]:
    lines = []
    for p in cmd.params:
        if getattr(p, "hidden", False):
            continue
        names = ", ".join(f"`{o}`" for o in (*p.opts, *p.secondary_opts))
        if p.param_type_name == "argument":
            names = f"`{p.name.upper()}`"
        help_text = (getattr(p, "help", None) or "").strip().replace("\n", " ")
        default = p.default
        if p.param_type_name == "option" and default not in (None, False, (), []) and not callable(
            default
        ):
            help_text += f" (default: {default})"
        lines.append(f"| {names} | {help_text} |")
    if not lines:
        return []
    return ["| argument / option | meaning |", "| --- | --- |", *lines, ""]


def _help(cmd: Any) -> str:
    lines = []
    for line in (cmd.help or "").strip().splitlines():
        if line.startswith("Example: "):
            line = f"Example: `{line[len('Example: '):].strip()}`"
        lines.append(line)
    return "\n".join(lines)


def _walk(cmd: Any, path: list[str], out: list[str]) -> None:
    if hasattr(cmd, "commands"):
        if path:
            out += [f"## geotool {' '.join(path)}", "", _help(cmd), ""]
        for name in sorted(cmd.commands):
            _walk(cmd.commands[name], [*path, name], out)
        return
    level = "###" if len(path) > 1 else "##"
    out += [f"{level} geotool {' '.join(path)}", "", _help(cmd), ""]
    out += _params(cmd)


def render_cli_docs() -> str:
    lines = [HEADER]
    _walk(get_command(app), [], lines)
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip() + "\n"


if __name__ == "__main__":
    print(render_cli_docs(), end="")
