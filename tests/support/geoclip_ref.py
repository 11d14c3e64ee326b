"""GeoCLIP's own ``LocationEncoder``, imported from the installed wheel's files.

The wheel's top-level ``geoclip/__init__.py`` imports its image encoder, which needs
``transformers`` (not installed: geoclip is installed --no-deps). So the location encoder's
module files are loaded by path under a private package name, ``_geoclip_ref``.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

PREFIX = "_geoclip_ref"


def geoclip_model_dir() -> Path | None:
    spec = importlib.util.find_spec("geoclip")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _load(name: str, file: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def location_encoder_class() -> Any:
    """GeoCLIP's ``LocationEncoder`` class (loads its pretrained weights when built)."""
    if f"{PREFIX}.model.location_encoder" in sys.modules:
        return sys.modules[f"{PREFIX}.model.location_encoder"].LocationEncoder
    root = geoclip_model_dir()
    assert root is not None, "geoclip is not installed (scripts/bootstrap.sh installs it)"
    for name, path in ((PREFIX, root.parent), (f"{PREFIX}.model", root),
                       (f"{PREFIX}.model.rff", root / "rff")):
        package = types.ModuleType(name)
        package.__path__ = [str(path)]
        sys.modules[name] = package
    _load(f"{PREFIX}.model.rff.functional", root / "rff" / "functional.py")
    _load(f"{PREFIX}.model.rff.layers", root / "rff" / "layers.py")
    _load(f"{PREFIX}.model.rff", root / "rff" / "__init__.py")
    _load(f"{PREFIX}.model.misc", root / "misc.py")
    return _load(f"{PREFIX}.model.location_encoder", root / "location_encoder.py").LocationEncoder
