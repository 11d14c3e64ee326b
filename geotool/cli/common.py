"""Shared pieces of the CLI: the consoles, options every command takes, and how errors
end a command.

Errors: a :class:`geotool.errors.GeotoolError` (an error the user can fix) and a database
that cannot be reached or is not migrated end the command with one red line and exit code
1. Anything else is a bug: it propagates with its traceback. ``geotool --debug`` (or
``GEOTOOL_DEBUG=1``) prints the traceback of user errors too.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer
from click.core import ParameterSource
from psycopg import errors as psycopg_errors
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.table import Column, Table
from sqlalchemy import exc as sa_exc

from geotool.errors import GeotoolError, missing_extra

#: Width of a console that is not a terminal (a log file, a pipe, CI): wide enough that
#: Rich never wraps or cuts a table cell; COLUMNS still wins when it is set.
UNCUT_WIDTH = 10_000


class UncutConsole(Console):
    """A Rich console that never truncates output written to a file or pipe.

    Rich lays out for 80 columns when the stream is not a terminal, so table cells became
    ``demo_se…`` and numbers ``1,7…`` in logs and CI. Here the width is then
    :data:`UNCUT_WIDTH` (unless ``COLUMNS`` says otherwise); on a terminal it is the
    terminal's, and :func:`table` keeps numbers whole there too."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if (self._width is None and not self.is_terminal
                and not os.environ.get("COLUMNS", "").isdigit()):
            return ConsoleDimensions(UNCUT_WIDTH, size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


def uncut_table(*headers: str, **kwargs: Any) -> Table:
    """A Rich table whose cells wrap (fold) instead of being cut with an ellipsis, so a
    narrow terminal never shows an elided number."""
    return Table(*(Column(h, overflow="fold") for h in headers), **kwargs)


console = UncutConsole(stderr=True)
out = UncutConsole()

def _database_url(ctx: typer.Context, param: typer.CallbackParam,
                  value: str | None) -> str | None:
    """``geotool --database-url URL COMMAND`` works like ``geotool COMMAND --database-url
    URL``: a URL given before the command is used unless the command got its own (and it
    wins over GEOTOOL_DATABASE_URL, as a flag does)."""
    root = ctx.find_root()
    given = root.params.get("database_url") if root is not ctx else None
    if given and ctx.get_parameter_source(param.name or "") is not ParameterSource.COMMANDLINE:
        return str(given)
    return value


DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="GEOTOOL_DATABASE_URL",
        help="PostGIS URL; default: geotool's private server.",
        show_default=False,
        callback=_database_url,
    ),
]

F = TypeVar("F", bound=Callable[..., Any])


class _Options:
    """Root options (``--debug``) that every command's error handling reads."""

    debug: bool = False


options = _Options()


def debug_enabled() -> bool:
    """True under ``geotool --debug`` or ``GEOTOOL_DEBUG=1``."""
    return options.debug or os.environ.get("GEOTOOL_DEBUG", "") not in ("", "0")


def _user_error(message: str, exc: BaseException) -> typer.Exit:
    if debug_enabled():
        traceback.print_exception(exc, file=sys.stderr)
    # escape(): messages hold brackets (pip install 'geotool[ml]') that are not markup
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(1)


def friendly_errors(func: F) -> F:
    """User errors (GeotoolError, an unreachable or unmigrated database, an optional
    package that is not installed) become one red line and exit code 1; Ctrl-C says how
    to continue (exit 130); anything else keeps its traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt as exc:
            if debug_enabled():
                traceback.print_exception(exc, file=sys.stderr)
            console.print("[bold yellow]stopped (Ctrl-C).[/] What was already committed is "
                          "kept; run the same command again to finish.")
            raise typer.Exit(130) from exc
        except GeotoolError as exc:
            raise _user_error(str(exc), exc) from exc
        except ModuleNotFoundError as exc:  # commands import their optional packages late
            missing = missing_extra(exc, "this command")
            if missing is None:
                raise
            raise _user_error(str(missing), exc) from exc
        except sa_exc.DBAPIError as exc:
            message = database_error_message(exc)
            if message is None:
                raise
            raise _user_error(message, exc) from exc

    return wrapper  # type: ignore[return-value]


def database_error_message(exc: sa_exc.DBAPIError) -> str | None:
    """What a database error the user can fix means for them (a server that cannot be
    reached, a schema that is missing or old); None for any other database error, which
    is a bug and keeps its traceback."""
    reason = (str(exc.orig) if exc.orig is not None else str(exc)).strip()
    first = reason.splitlines()[0] if reason else type(exc).__name__
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) and not isinstance(
        exc.orig, psycopg_errors.QueryCanceled
    ):
        from geotool.db.engine import database_source

        if database_source() == "private":
            return (f"cannot use geotool's private database server: {first}. See "
                    "`geotool db status`; start it with `geotool db up` (or give "
                    "--database-url to use another PostGIS).")
        return (f"cannot use the database: {first}. Check --database-url / "
                "GEOTOOL_DATABASE_URL (or the config file's database_url), or leave them "
                "unset to use geotool's private server (`geotool db status`).")
    if isinstance(exc.orig, psycopg_errors.UndefinedTable | psycopg_errors.UndefinedColumn):
        return (f"the database schema is missing or out of date ({first}); run "
                "`geotool db upgrade`.")
    return None


def fail(message: str, code: int = 1) -> None:
    console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)
