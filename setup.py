"""Build step that pyproject.toml cannot express: ship the repository's top-level
``sql/``, ``migrations/``, ``alembic.ini`` and the ``training/`` configs inside the wheel, as
``geotool/_resources/`` (found at run time by ``geotool.db.resources``). An editable
install needs no copy: it reads them from the checkout."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RESOURCES = ("sql", "migrations", "alembic.ini", "training")


class BuildPyWithResources(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "geotool" / "_resources"
        for name in RESOURCES:
            source = Path(name)
            if source.is_dir():
                shutil.copytree(source, target / name, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildPyWithResources})
