"""How long-running library work reports progress, without knowing who listens.

Every stage (ingest, geocode, build, train, predict, concepts …) takes an optional
``progress: Progress`` argument and calls it as it goes; the CLI passes a Rich
implementation (``geotool.cli.progress``), Python callers may pass their own or nothing
(:data:`NO_PROGRESS`, which does nothing).

The protocol is deliberately small:

- ``phase(name, total)`` starts a new phase of work with ``total`` items (None when
  unknown); the previous phase, if any, ends.
- ``advance(n)`` marks ``n`` more items of the current phase done.
- ``update(**fields)`` shows named values beside the bar (a loss, a learning rate).
- ``message(text)`` prints one line above the bar (a warning, a summary).

This module imports nothing from geotool, so every layer may use it.
"""

from __future__ import annotations

from typing import Any, Protocol


class Progress(Protocol):
    """Receiver of progress reports; see the module docstring."""

    def phase(self, name: str, total: int | None = None) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def update(self, **fields: Any) -> None: ...

    def message(self, text: str) -> None: ...


class NullProgress:
    """A :class:`Progress` that ignores everything (the default of every stage)."""

    def phase(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def update(self, **fields: Any) -> None:
        pass

    def message(self, text: str) -> None:
        pass


class RecordingProgress:
    """A :class:`Progress` that keeps what it was told (for tests and scripts)."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, int | None]] = []
        self.done: dict[str, int] = {}
        self.fields: dict[str, Any] = {}
        self.messages: list[str] = []
        self._current: str | None = None

    def phase(self, name: str, total: int | None = None) -> None:
        self.phases.append((name, total))
        self._current = name
        self.done.setdefault(name, 0)

    def advance(self, n: int = 1) -> None:
        if self._current is not None:
            self.done[self._current] += n

    def update(self, **fields: Any) -> None:
        self.fields.update(fields)

    def message(self, text: str) -> None:
        self.messages.append(text)


NO_PROGRESS: Progress = NullProgress()
