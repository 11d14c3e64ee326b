"""Checkpoint files: what a trained model is on disk.

A checkpoint is one ``torch.save`` file holding a dict with plain types and tensors only
(so it loads with ``weights_only=True``):

``format``      ``"geotool-checkpoint"``; ``version`` 1
``family``      ``"classifier"`` (absent in older files: a classifier) or ``"align"``
``backbone``    backbone name (``geotool.learn.model.BACKBONES``)
``image_size``  input size the model was trained at
``classes``     :meth:`geotool.learn.classes.SetClasses.to_dict` (keys, labels,
                coordinates and fingerprint of every level's classes); a classifier's
``concept_names``, ``vocabulary``: an alignment model's concept bank (its names in order)
``model``       the :class:`~geotool.learn.model.GeoClassifier` (or
                :class:`~geotool.learn.align.model.AlignModel`) state dict
``config``      the full training configuration (a dict)
``state``       optional training state for ``--resume``: optimiser, scheduler, data
                position, RNG states (written by the training loop; absent in exports)

Files are written atomically: to a temporary file in the same folder, flushed, then
renamed over the target, so a crash never leaves half a checkpoint.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from geotool.errors import GeotoolError
from geotool.learn.classes import SetClasses
from geotool.learn.model import GeoClassifier

FORMAT = "geotool-checkpoint"
VERSION = 1


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (with ``format``/``version`` added) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": FORMAT, "version": VERSION, **payload}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a geotool checkpoint file, or say clearly why it is not one."""
    return _read_checkpoint(path, map_location)[0]


def _read_checkpoint(path: Path, map_location: str | torch.device = "cpu"
                     ) -> tuple[dict[str, Any], str]:
    """The checkpoint and the SHA-256 of the bytes it was loaded from (one read, so the
    digest names exactly the weights loaded even if the file is replaced meanwhile)."""
    path = Path(path)
    if not path.is_file():
        raise GeotoolError(f"checkpoint {path} does not exist")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise GeotoolError(f"cannot read checkpoint {path}: {exc}") from exc
    digest = hashlib.sha256(raw).hexdigest()
    try:
        data = torch.load(io.BytesIO(raw), map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for damaged/foreign files
        raise GeotoolError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GeotoolError(f"{path} is not a geotool checkpoint (no format marker)")
    if data.get("version") != VERSION:
        raise GeotoolError(f"{path}: checkpoint version {data.get('version')} is not "
                           f"supported (this geotool reads version {VERSION})")
    return data, digest


@dataclass
class LoadedModel:
    """A model ready for inference, with the classes it predicts."""

    model: GeoClassifier
    classes: SetClasses
    backbone: str
    image_size: int
    config: dict[str, Any]
    path: Path
    sha256: str = ""  # of the checkpoint file's bytes: what prediction and concept runs key on


def load_model(path: Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Build the model stored in checkpoint ``path`` and load its weights (eval mode)."""
    data, digest = _read_checkpoint(path)
    if data.get("family", "classifier") != "classifier":
        raise GeotoolError(f"{path} holds an alignment model (family {data['family']!r}), not "
                           "a classifier; load it with geotool.learn.align.model."
                           "load_align_checkpoint")
    classes = SetClasses.from_dict(data["classes"])
    model = GeoClassifier(data["backbone"], classes.n_classes)
    model.load_state_dict(data["model"])
    model.to(device).eval()
    return LoadedModel(model, classes, data["backbone"], int(data["image_size"]),
                       dict(data.get("config", {})), Path(path), digest)
