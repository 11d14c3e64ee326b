"""Skipping a test for a missing optional component, except under ``CI=true``.

A test that needs something optional (the Nominatim packages, osm2pgsql) may skip on a
developer's machine that lacks it; in CI the component must be there, so a missing one
fails the run instead of silently skipping tests. Hard dependencies of geotool are
imported plainly, never through here.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``; under CI=true fail with it."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def import_or_skip(name: str, hint: str) -> ModuleType:
    """``pytest.importorskip`` that fails under CI=true; ``hint`` says how to install."""
    try:
        return importlib.import_module(name)
    except ImportError:
        skip_or_fail(f"{name} is not installed ({hint})")
        raise  # not reached: skip_or_fail raises
