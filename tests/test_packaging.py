"""pyproject.toml installs without setuptools deprecation warnings (issue 17)."""

from __future__ import annotations

import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_license_is_an_spdx_string_without_deprecation_warnings() -> None:
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        apply_configuration(Distribution(), REPO / "pyproject.toml")
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "license" in m.lower()], messages
