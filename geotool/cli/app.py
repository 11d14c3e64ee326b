"""The ``geotool`` command: one Typer app that gathers every command group.

Each command lives in its own module under ``geotool/cli`` and only parses arguments,
calls the library and prints.
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

import typer
import typer.core
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
    ("gallery", "gallery", "group"),
    ("probe", "probe", "command"),
    ("align_report", "align-report", "command"),
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


_LIST_LINE = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s")


def reflow_help(text: str | None) -> str | None:
    """A docstring as help text: the lines of each paragraph joined, so that Rich wraps
    them to the terminal (hard line breaks at 88 columns left orphan words at 80).
    Paragraphs that are lists or indented blocks keep their lines."""
    if not text:
        return text
    paragraphs = re.split(r"\n\s*\n", inspect.cleandoc(text))
    out = []
    for para in paragraphs:
        lines = para.splitlines()
        if any(_LIST_LINE.match(line) or line.startswith((" ", "\t")) for line in lines):
            out.append(para)
        else:
            out.append(" ".join(line.strip() for line in lines))
    return "\n\n".join(out)


def _reflow_group(group: typer.Typer) -> None:
    group.info.help = reflow_help(group.info.help)
    for command in group.registered_commands:
        if command.help:
            command.help = reflow_help(command.help)
        elif command.callback is not None and command.callback.__doc__:
            command.callback.__doc__ = reflow_help(command.callback.__doc__)
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _reflow_group(sub.typer_instance)


def _flag_type(self: Any, ctx: Any) -> str | None:
    """No ``<bool>`` beside a flag (``--learn/--no-learn`` takes no value)."""
    if getattr(self, "is_flag", False) and not getattr(self, "count", False):
        return None
    return _typer_display_type_rich(self, ctx)


_typer_display_type_rich = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]


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
        _reflow_group(module.app)
        target.add_typer(module.app, name=name)
    else:
        settings = {"allow_extra_args": True} if name in TAKES_EXTRA_ARGS else None
        func = getattr(module, name.replace("-", "_"))
        func.__doc__ = reflow_help(func.__doc__)
        target.command(name, context_settings=settings)(func)


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

    handler: logging.Handler
    if console.is_terminal:
        handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
        fmt = "%(name)s: %(message)s"
    else:  # a log file or pipe: plain lines, never padded to the (uncut) console width
        handler = logging.StreamHandler()
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=logging.WARNING, format=fmt, handlers=[handler], force=True)
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
    database_url: str | None = typer.Option(
        None, "--database-url", show_default=False,
        help="PostGIS URL for the command that follows (the same as giving it after the "
             "command)."),
) -> None:
    """Interpretable, planet-scale photo geolocation backed by PostGIS."""
    from geotool.cli.common import options

    options.debug = debug
    if verbose:
        _logging(verbose)


_register()


def main() -> None:
    app()
