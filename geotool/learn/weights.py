"""Starting weights from local files: ``--weights PATH`` and ``--init-from MODEL``.

Nothing is downloaded. ``--weights`` takes either a torchvision state dict (the
backbone's weights; the classifier of the file is ignored) or a geotool checkpoint (its
backbone, and its heads too when its classes are exactly the new model's — the
reference code silently dropped the heads). Keys that do not fit are an error that
names them, never a silent partial load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from geotool.errors import GeotoolError
from geotool.learn.checkpoint import FORMAT, read_checkpoint
from geotool.learn.classes import SetClasses
from geotool.learn.model import GeoClassifier

_CLASSIFIER_PREFIXES = ("fc.", "classifier.")


def _few(keys: list[str]) -> str:
    return ", ".join(keys[:5]) + (f" … ({len(keys)} in all)" if len(keys) > 5 else "")


def load_backbone_state(model: GeoClassifier, state: dict[str, Any], source: str) -> None:
    """Load ``state`` (backbone keys, no prefix) into ``model.backbone``; refuse misfits."""
    own = model.backbone.state_dict()
    state = {k: v for k, v in state.items()
             if k in own or not k.startswith(_CLASSIFIER_PREFIXES)}
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected {_few(unexpected)}")
        if wrong:
            parts.append("wrong shape " + _few(
                [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in wrong]))
        raise GeotoolError(f"{source} does not fit backbone {model.backbone_name}: "
                           + "; ".join(parts) + ". Give weights of the same architecture.")
    model.backbone.load_state_dict(state)


def load_weights_file(model: GeoClassifier, path: Path, classes: SetClasses) -> str:
    """Initialise ``model`` from ``path``; returns a sentence saying what was loaded."""
    path = Path(path)
    if not path.is_file():
        raise GeotoolError(f"weights file {path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise GeotoolError(f"cannot read weights file {path}: {exc}") from exc
    if isinstance(data, dict) and data.get("format") == FORMAT:
        return load_geotool_checkpoint(model, read_checkpoint(path), classes, str(path))
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise GeotoolError(f"{path} is neither a state dict nor a geotool checkpoint")
    load_backbone_state(model, dict(data), str(path))
    return f"backbone weights from {path} (torchvision state dict); heads start fresh"


def load_geotool_checkpoint(model: GeoClassifier, data: dict[str, Any], classes: SetClasses,
                            source: str, heads: bool = True) -> str:
    """Backbone from a geotool checkpoint, and heads when the class lists are the same."""
    if data.get("backbone") != model.backbone_name:
        raise GeotoolError(f"{source} holds a {data.get('backbone')} model, not "
                           f"{model.backbone_name}; choose --backbone {data.get('backbone')}")
    state = data["model"]
    load_backbone_state(model, {k[len("backbone."):]: v for k, v in state.items()
                                if k.startswith("backbone.")}, source)
    theirs = SetClasses.from_dict(data["classes"])
    if heads and theirs.fingerprint == classes.fingerprint:
        model.heads.load_state_dict({k[len("heads."):]: v for k, v in state.items()
                                     if k.startswith("heads.")})
        return f"backbone and heads from {source} (same classes)"
    why = "not asked" if not heads else (
        f"its classes {theirs.n_classes} of set {theirs.set_name!r} differ from "
        f"{classes.n_classes} of {classes.set_name!r}")
    return f"backbone from {source}; heads start fresh ({why})"
