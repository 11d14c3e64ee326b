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


def test_every_package_declares_its_modules() -> None:
    """Each package's ``__init__`` lists its public modules in ``__all__`` (or the names
    it re-exports), so a reader sees a package's surface in one place."""
    missing, wrong = [], []
    for init in sorted((REPO / "geotool").rglob("__init__.py")):
        package = init.parent
        name = str(package.relative_to(REPO))
        tree = ast.parse(init.read_text(), str(init))
        declared = [node for node in tree.body if isinstance(node, ast.Assign)
                    and any(getattr(t, "id", "") == "__all__" for t in node.targets)]
        if not declared:
            missing.append(name)
            continue
        names = ast.literal_eval(declared[0].value)
        children = {p.stem for p in package.glob("*.py")} | {
            p.parent.name for p in package.glob("*/__init__.py")}
        wrong += [f"{name}: {n}" for n in names
                  if n not in children and n != "__version__"
                  and not any(isinstance(node, ast.ImportFrom) for node in tree.body)]
    assert missing == [] and wrong == []
