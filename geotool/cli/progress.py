"""The CLI's one implementation of :class:`geotool.progress.Progress`: a Rich bar with
counts, items/s, elapsed and remaining time, and any named values a stage reports
(loss, learning rate) beside it.

Use it as a context manager around the library call::

    with RichProgress() as progress:
        train(..., progress=progress)
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class RichProgress:
    """A :class:`geotool.progress.Progress` drawn with Rich on stderr."""

    def __init__(self, console: Console | None = None, unit: str = "/s",
                 transient: bool = False) -> None:
        if console is None:
            from geotool.cli.common import console as default_console
            console = default_console
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[extra]}"),
            console=console,
            transient=transient,
        )
        self._unit = unit
        self._task: TaskID | None = None
        self._start = 0.0
        self._done = 0
        self._fields: dict[str, Any] = {}

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._bar.stop()

    def phase(self, name: str, total: int | None = None) -> None:
        if self._task is not None:
            self._bar.stop_task(self._task)
        self._task = self._bar.add_task(name, total=total, rate="", extra="")
        self._start = time.monotonic()
        self._done = 0
        self._fields = {}  # values belong to their phase (a loss is not a byte count)

    def advance(self, n: int = 1) -> None:
        if self._task is None:
            self.phase("working")
        assert self._task is not None
        self._done += n
        elapsed = max(time.monotonic() - self._start, 1e-9)
        self._bar.update(self._task, advance=n, rate=f"{self._done / elapsed:,.1f}{self._unit}")

    def update(self, **fields: Any) -> None:
        self._fields.update(fields)
        if self._task is not None:
            extra = " ".join(f"{k} {_format(v)}" for k, v in self._fields.items())
            self._bar.update(self._task, extra=extra)

    def message(self, text: str) -> None:
        self._bar.console.print(text)
