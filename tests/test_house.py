"""House rules that a reader could break without noticing: test modules import helpers
from tests/support, never each other; the repository cites no file outside itself."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_no_test_module_imports_another() -> None:
    offenders = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names
                          if n.split(".")[-1].startswith(("test_", "conftest"))]
    assert offenders == []


def test_no_citation_of_files_outside_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    cited = []
    for name in tracked:
        path = REPO / name
        if path.suffix not in {".py", ".md", ".sql", ".toml", ".sh", ".ini", ".yml"}:
            continue
        if not path.is_file() or path.name == "test_house.py":
            continue
        text = path.read_text(errors="replace")
        cited += [f"{name}: {word}" for word in ("ARCHITECTURE", "../shared", "anchors-training")
                  if word in text]
    assert cited == []
    assert (REPO / "docs" / "method.md").is_file()
