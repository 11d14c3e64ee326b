"""Shared pieces of the CLI: the console, options every command takes, error exits,
and the standard Rich progress bar (counts and rates)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer
from psycopg import errors as psycopg_errors
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import exc as sa_exc

from geotool.errors import GeotoolError

console = Console(stderr=True)
out = Console()

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="GEOTOOL_DATABASE_URL",
        help="PostGIS URL; default: geotool's private server.",
        show_default=False,
    ),
]

F = TypeVar("F", bound=Callable[..., Any])


class UserError(Exception):
    """An error whose message is meant for the user as it is (no traceback)."""


def friendly_errors(func: F) -> F:
    """Turn library errors into a red message and exit code 1 instead of a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt as exc:
            console.print("[bold yellow]stopped (Ctrl-C).[/] What was already committed is "
                          "kept; run the same command again to finish.")
            raise typer.Exit(130) from exc
        except (UserError, GeotoolError, ValueError, FileNotFoundError, RuntimeError,
                OSError) as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(1) from exc
        except sa_exc.DBAPIError as exc:
            console.print(f"[bold red]error:[/] {database_error_message(exc)}")
            raise typer.Exit(1) from exc

    return wrapper  # type: ignore[return-value]


def database_error_message(exc: sa_exc.DBAPIError) -> str:
    """What a database error means for the user, without SQLAlchemy's traceback dump."""
    reason = (str(exc.orig) if exc.orig is not None else str(exc)).strip()
    first = reason.splitlines()[0] if reason else type(exc).__name__
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) and not isinstance(
        exc.orig, psycopg_errors.QueryCanceled
    ):
        return (f"cannot use the database: {first}. Check --database-url / "
                "GEOTOOL_DATABASE_URL, or leave both unset to use geotool's private server "
                "(`geotool db status`).")
    if isinstance(exc.orig, psycopg_errors.UndefinedTable | psycopg_errors.UndefinedColumn):
        return (f"the database schema is missing or out of date ({first}); run "
                "`geotool db upgrade`.")
    return f"the database refused the operation: {first}"


def fail(message: str, code: int = 1) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def make_progress(transient: bool = False, show_counts: bool = True) -> Progress:
    """The progress bar every long command uses: counts, rate, elapsed, remaining.

    The ``rate`` field of each task is shown as given. ``show_counts=False`` hides the
    done/total column, for bars whose total is not a count of items (bytes of a file).
    """
    counts = [MofNCompleteColumn()] if show_counts else []
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        *counts,
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
    )


@contextmanager
def progress_task(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Context manager yielding ``advance(n)``; shows items/s as the rate."""
    import time

    with make_progress() as progress:
        task = progress.add_task(description, total=total, rate="")
        start = time.monotonic()
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            elapsed = max(time.monotonic() - start, 1e-9)
            progress.update(task, advance=n, rate=f"{done / elapsed:,.0f}/s")

        yield advance
