"""The ``geotool`` command: one Typer app that gathers every command group.

Each command lives in its own module under ``geotool/cli`` and only parses arguments,
calls the library and prints.
"""

from __future__ import annotations

import importlib

import typer

from geotool import __version__

app = typer.Typer(
    name="geotool",
    help=(
        "Interpretable, planet-scale photo geolocation backed by PostGIS.\n\n"
        "Example: geotool demo   (the whole pipeline on the synthetic planet)"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# (module, name, kind): kind "group" mounts module.app as a sub-command group,
# "command" registers the module's function of the same name as a command.
COMMANDS: list[tuple[str, str, str]] = [
    ("db", "db", "group"),
    ("ingest", "ingest", "command"),
    ("synth", "synth", "group"),
    ("nominatim", "nominatim", "group"),
    ("geocode", "geocode", "command"),
    ("boundaries", "boundaries", "group"),
    ("build", "build", "command"),
    ("partitions", "partitions", "group"),
    ("export", "export", "group"),
    ("concepts", "concepts", "group"),
    ("demo", "demo", "command"),
]

# Commands whose list options read naturally (`--tau 50 75 100`): the values after the
# first arrive as extra arguments, which the command parses and validates itself.
TAKES_EXTRA_ARGS = {"build"}


def _register() -> None:
    for module_name, name, kind in COMMANDS:
        module = importlib.import_module(f"geotool.cli.{module_name}")
        if kind == "group":
            app.add_typer(module.app, name=name)
        else:
            settings = {"allow_extra_args": True} if name in TAKES_EXTRA_ARGS else None
            app.command(name, context_settings=settings)(getattr(module, name.replace("-", "_")))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"geotool {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Interpretable, planet-scale photo geolocation backed by PostGIS."""


_register()


def main() -> None:
    app()
