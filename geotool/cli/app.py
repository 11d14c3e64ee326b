"""The ``geotool`` command: one Typer app that gathers every command group.

Each command lives in its own module under ``geotool/cli`` and only parses arguments,
calls the library and prints.
"""

from __future__ import annotations

import importlib

import typer
from rich.markup import escape

from geotool import __version__
from geotool.cli.common import friendly_errors
from geotool.errors import EXTRA_OF_PACKAGE, MissingExtraError, require_module

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
    ("resample", "resample", "command"),
    ("synth", "synth", "group"),
    ("nominatim", "nominatim", "group"),
    ("geocode", "geocode", "command"),
    ("boundaries", "boundaries", "group"),
    ("geonames", "geonames", "group"),
    ("build", "build", "command"),
    ("partitions", "partitions", "group"),
    ("predict", "predict", "command"),
    ("predict", "predict-image", "command"),
    ("evaluate", "evaluate", "command"),
    ("export", "export", "group"),
    ("runs", "runs", "command"),
    ("train", "train", "command"),
    ("models", "models", "group"),
    ("ingest_shards", "ingest-shards", "command"),

    ("concepts", "concepts", "group"),
    ("demo", "demo", "command"),
]

# Commands whose list options read naturally (`--tau 50 75 100`): the values after the
# first arrive as extra arguments, which the command parses and validates itself.
TAKES_EXTRA_ARGS = {"build"}


def add_command(target: typer.Typer, module_path: str, name: str, kind: str) -> None:
    """Mount one command (or group) of ``module_path`` on ``target``; see ``COMMANDS``.

    A command module that cannot be imported because an optional package is missing still
    gets its name: running it says which extra to install."""
    try:
        module = importlib.import_module(module_path)
    except ModuleNotFoundError as exc:
        package = (exc.name or "").split(".")[0]
        if package not in EXTRA_OF_PACKAGE:
            raise
        _add_unavailable(target, name, package)
        return
    if kind == "group":
        target.add_typer(module.app, name=name)
    else:
        settings = {"allow_extra_args": True} if name in TAKES_EXTRA_ARGS else None
        target.command(name, context_settings=settings)(getattr(module, name.replace("-", "_")))


def _add_unavailable(target: typer.Typer, name: str, package: str) -> None:
    """A stand-in for a command whose optional dependency is missing."""
    extra = EXTRA_OF_PACKAGE[package]

    @friendly_errors
    def unavailable(ctx: typer.Context) -> None:
        require_module(package, extra, f"geotool {name}")
        raise MissingExtraError(package, extra, f"geotool {name}")  # found, yet not importable

    unavailable.__doc__ = (f"(not installed: needs the '{extra}' extra)\n\n"
                           + escape(f"Example: pip install 'geotool[{extra}]'"))
    target.command(name, context_settings={"allow_extra_args": True,
                                           "ignore_unknown_options": True})(unavailable)


def _register() -> None:
    for module_name, name, kind in COMMANDS:
        add_command(app, f"geotool.cli.{module_name}", name, kind)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"geotool {__version__}")
        raise typer.Exit()


def _logging(verbosity: int) -> None:
    """``-v``: geotool's INFO log lines on stderr; ``-vv``: DEBUG, libraries too, and the
    SQL statements SQLAlchemy sends."""
    import logging

    from rich.logging import RichHandler

    from geotool.cli.common import console

    handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s",
                        handlers=[handler], force=True)
    level = logging.INFO if verbosity == 1 else logging.DEBUG
    logging.getLogger("geotool").setLevel(level)
    if verbosity >= 2:
        logging.getLogger().setLevel(logging.DEBUG)
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
    debug: bool = typer.Option(
        False, "--debug", envvar="GEOTOOL_DEBUG",
        help="Print the traceback of every error, user errors too (a bug always prints it)."),
    verbose: int = typer.Option(
        0, "-v", "--verbose", count=True,
        help="Log what geotool does (-v: geotool's INFO lines; -vv: DEBUG, libraries and "
             "SQL too)."),
) -> None:
    """Interpretable, planet-scale photo geolocation backed by PostGIS."""
    from geotool.cli.common import options

    options.debug = debug
    if verbose:
        _logging(verbose)


_register()


def main() -> None:
    app()
