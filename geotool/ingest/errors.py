"""Exceptions that ``geotool ingest`` raises: each message says which file, what is wrong
and what to do, so the CLI can print it as it is."""

from __future__ import annotations

from dataclasses import dataclass

from geotool.errors import InvalidValueError


class IngestError(InvalidValueError):
    """Ingest cannot go on (unreadable file, unknown format, missing column or split)."""


@dataclass(frozen=True)
class RowProblem:
    """One refused row: its 1-based line number in the file, its id (if any) and why."""

    line_no: int
    external_id: str | None
    kind: str
    reason: str


class InvalidRowsError(IngestError):
    """The file holds invalid rows and ``skip_invalid`` was not given; nothing was written."""

    def __init__(self, source: str, problems: list[RowProblem], total: int,
                 counts: dict[str, int], hint: str | None = None) -> None:
        self.source = source
        self.problems = problems
        self.total = total
        self.counts = counts
        self.hint = hint
        super().__init__(self._message())

    def _message(self) -> str:
        lines = [f"{self.source}: {self.total:,} invalid row(s); nothing was written."]
        for p in self.problems:
            ident = f" (id {p.external_id!r})" if p.external_id else ""
            lines.append(f"  line {p.line_no}{ident}: {p.reason}")
        if self.total > len(self.problems):
            lines.append(f"  ... and {self.total - len(self.problems):,} more")
        if self.hint:
            lines.append(self.hint)
        lines.append("Fix the file, or re-run with --skip-invalid to load the valid rows and "
                     "record the others in the rejected_rows table.")
        return "\n".join(lines)


class SwappedColumnsError(IngestError):
    """Latitude and longitude look swapped (the old im2gps3k meta CSV has this defect)."""
