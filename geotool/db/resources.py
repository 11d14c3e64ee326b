"""Where geotool's SQL files, Alembic migrations, ``alembic.ini`` and the training configs
are at run time.

In the repository they live at the top level (``sql/``, ``migrations/``, ``alembic.ini``,
``training/``),
beside the ``geotool`` package. A built wheel carries copies inside the package, in
``geotool/_resources/`` (``setup.py`` puts them there). This is the only module that knows
either place; everything else asks :func:`resource_root` or the helpers below.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: Inside an installed wheel.
PACKAGED = PACKAGE_DIR / "_resources"
#: A checkout (or an editable install of one).
CHECKOUT = PACKAGE_DIR.parent


@cache
def resource_root() -> Path:
    """The folder holding ``sql/``, ``migrations/`` and ``alembic.ini``."""
    for root in (PACKAGED, CHECKOUT):
        if (root / "sql").is_dir() and (root / "migrations").is_dir():
            return root
    raise FileNotFoundError(
        f"geotool's sql/ and migrations/ are neither in {PACKAGED} (an installed wheel) nor "
        f"in {CHECKOUT} (a checkout): this installation is broken; reinstall geotool.")


def sql_dir() -> Path:
    """The folder of the ``sql/<name>.sql`` files."""
    return resource_root() / "sql"


def migrations_dir() -> Path:
    """The Alembic script folder (``env.py``, ``versions/``)."""
    return resource_root() / "migrations"


def alembic_ini() -> Path:
    """geotool's ``alembic.ini`` (logging settings; the script folder is set in code)."""
    return resource_root() / "alembic.ini"


def training_config(name: str) -> Path:
    """A shipped training configuration, e.g. ``synthetic.toml`` (``training/`` in a
    checkout)."""
    return resource_root() / "training" / name
