"""Run the SQL files in ``sql/``: one documented file per build step.

A file holds one or more statements separated by semicolons (dollar-quoted bodies,
quoted strings and comments are respected). Values are bound parameters written
``:name`` (SQLAlchemy ``text()`` style); each statement receives only the parameters it
mentions, so one parameter dict serves a whole file.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult

from geotool.db.resources import sql_dir

_PARAM = re.compile(r"(?<![:\w]):(\w+)")


def split_statements(text: str) -> list[str]:
    """Split SQL text on top-level semicolons."""
    out: list[str] = []
    buf: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            buf.append(text[i:j])
            i = j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            buf.append(text[i:j])
            i = j
            continue
        if ch == "'":
            j = i + 1
            while j < n:
                if text[j] == "'" and (j + 1 >= n or text[j + 1] != "'"):
                    break
                j += 2 if text[j] == "'" else 1
            buf.append(text[i : j + 1])
            i = j + 1
            continue
        if ch == "$":
            m = re.match(r"\$[A-Za-z_]*\$", text[i:])
            if m:
                tag = m.group(0)
                j = text.find(tag, i + len(tag))
                j = n if j < 0 else j + len(tag)
                buf.append(text[i:j])
                i = j
                continue
        if ch == ";":
            stmt = "".join(buf).strip()
            if _has_code(stmt):
                out.append(stmt)
            buf = []
            i += 1
            continue
        buf.append(ch)
        i += 1
    stmt = "".join(buf).strip()
    if _has_code(stmt):
        out.append(stmt)
    return out


def _has_code(stmt: str) -> bool:
    lines = [ln for ln in stmt.splitlines() if not ln.strip().startswith("--")]
    return bool("".join(lines).strip())


@cache
def load(name: str) -> list[str]:
    """The statements of ``sql/<name>.sql``."""
    path = sql_dir() / (name if name.endswith(".sql") else f"{name}.sql")
    if not path.exists():
        raise FileNotFoundError(f"SQL file {path} is missing from this geotool installation.")
    return split_statements(path.read_text())


def run(conn: Connection, name: str, **params: Any) -> CursorResult[Any] | None:
    """Execute every statement of ``sql/<name>.sql``; returns the last result."""
    result: CursorResult[Any] | None = None
    for stmt in load(name):
        wanted = {p: params[p] for p in _PARAM.findall(_strip_comments(stmt)) if p in params}
        missing = set(_PARAM.findall(_strip_comments(stmt))) - set(params)
        if missing:
            raise KeyError(f"sql/{name}.sql needs parameter(s) {sorted(missing)}")
        result = conn.execute(sa.text(stmt), wanted)
    return result


def _strip_comments(stmt: str) -> str:
    no_line = re.sub(r"--[^\n]*", "", stmt)
    no_str = re.sub(r"'(?:[^']|'')*'", "''", no_line)
    return re.sub(r"\$([A-Za-z_]*)\$.*?\$\1\$", "", no_str, flags=re.S)
