"""Segmentation maps behind one small interface.

A :class:`Segmenter` turns a photo (and its image row) into a label map at the photo's
own size — one concept value per pixel — and names its vocabulary: which value means
which concept, and which values are ignored (ADE20k's 0 = "other"). The pipeline then
puts the map through the same resize and crop as the explained input.

Three kinds:

- :class:`LabelMapFiles` — PNG label maps on disk (the image row's ``mask_path``, or a
  folder with one ``<external id>.png`` per photo) with a vocabulary: ADE20k's 150 names
  ship with geotool (:data:`ADE20K_NAMES`), or a names file (one name per line, line
  ``i`` = value ``i``).
- the synthetic planet's ground-truth masks: label-map files in ADE20k ids, written by
  ``geotool synth photos`` and ingested as ``mask_path`` (:func:`synthetic_masks`).
- :class:`NetworkSegmenter` — a segmentation network from a local file: TorchScript (or a
  ``torch.export`` ``.pt2`` archive), or a torchvision segmentation model's state dict
  (built with ``weights=None``), with a
  user-given list of class names. Nothing is downloaded.

A problem with one image's mask is a :class:`MaskProblem` (status + detail), recorded by
the pipeline for that image; it never stops a run.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from geotool.errors import GeotoolError
from geotool.vocab.ade20k import ADE20K_NAMES as _ADE

#: ADE20k SceneParsing's 150 class names: value k (1..150) is ``ADE20K_NAMES[k]``, 0 "other".
ADE20K_NAMES: tuple[str, ...] = _ADE


@dataclass(frozen=True)
class MaskProblem:
    """Why an image has no usable label map (``missing_mask``, ``size_mismatch``, …)."""

    status: str
    detail: str


@dataclass(frozen=True)
class ImageRef:
    """What a segmenter may need about an image."""

    id: int
    external_id: str
    path: str | None
    mask_path: str | None


class Segmenter(Protocol):
    """Label maps for photos, in a named vocabulary."""

    vocabulary: str
    names: dict[int, str]  # pixel value -> concept name
    ignore: tuple[int, ...]  # values that are not concepts

    def label_map(self, image: ImageRef, photo: Image.Image) -> NDArray[Any] | MaskProblem:
        """A ``[H, W]`` integer map at the photo's size, or the problem."""
        ...

    def describe(self) -> dict[str, Any]:
        """Plain-type description recorded in the run's parameters."""
        ...


def read_names(path: Path) -> dict[int, str]:
    """A names file: one concept name per line, line i (0-based) = value i; blank skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GeotoolError(f"cannot read class names file {path}: {exc}") from exc
    names = {i: ln.strip() for i, ln in enumerate(lines) if ln.strip()}
    if not names:
        raise GeotoolError(f"class names file {path} is empty; write one name per line")
    return names


def _ade20k() -> dict[int, str]:
    return {i: n for i, n in enumerate(ADE20K_NAMES) if i > 0}


@dataclass
class LabelMapFiles:
    """PNG label maps: the image's ``mask_path`` or ``<folder>/<external id>.png``."""

    vocabulary: str = "ade20k"
    names: dict[int, str] = field(default_factory=_ade20k)
    ignore: tuple[int, ...] = (0,)
    folder: Path | None = None

    def _path(self, image: ImageRef) -> Path | None:
        if self.folder is not None:
            return self.folder / f"{image.external_id}.png"
        return Path(image.mask_path) if image.mask_path else None

    def label_map(self, image: ImageRef, photo: Image.Image) -> NDArray[Any] | MaskProblem:
        path = self._path(image)
        if path is None:
            return MaskProblem("missing_mask", "the image has no mask_path")
        if not path.is_file():
            return MaskProblem("missing_mask", f"{path} does not exist")
        try:
            with Image.open(path) as img:
                arr = np.asarray(img)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
            return MaskProblem("unreadable", f"{path}: {exc}")
        if arr.ndim != 2:
            return MaskProblem("unreadable", f"{path}: a label map has one channel, "
                                             f"this one has shape {arr.shape}")
        if (arr.shape[1], arr.shape[0]) != photo.size:
            return MaskProblem("size_mismatch", f"mask {arr.shape[1]}x{arr.shape[0]} vs "
                                                f"photo {photo.size[0]}x{photo.size[1]}")
        return arr

    def describe(self) -> dict[str, Any]:
        return {"kind": "label-maps", "vocabulary": self.vocabulary,
                "folder": str(self.folder) if self.folder else None,
                "n_names": len(self.names), "ignore": list(self.ignore)}


def synthetic_masks() -> LabelMapFiles:
    """The synthetic planet's ground truth: ADE20k-id PNGs referenced by ``mask_path``."""
    return LabelMapFiles("ade20k", _ade20k(), (0,), None)


class NetworkSegmenter:
    """A local segmentation network (TorchScript file or torchvision state dict)."""

    def __init__(self, path: Path, names: dict[int, str], arch: str | None = None,
                 vocabulary: str | None = None, input_size: int = 512,
                 device: str | torch.device = "cpu", ignore: tuple[int, ...] = ()) -> None:
        self.path = Path(path)
        self.names = names
        self.arch = arch
        self.vocabulary = vocabulary or self.path.stem
        self.input_size = input_size
        self.device = torch.device(device)
        self.ignore = ignore
        if not self.path.is_file():
            raise GeotoolError(f"segmentation model {self.path} does not exist")
        self.net = self._load().to(self.device).eval()

    def _load(self) -> torch.nn.Module:
        if self.arch is None and self.path.suffix == ".pt2":  # torch.export archive
            try:
                return torch.export.load(str(self.path)).module()
            except Exception as exc:
                raise GeotoolError(f"cannot load exported program {self.path}: {exc}") from exc
        if self.arch is None:
            try:
                with warnings.catch_warnings():  # TorchScript is deprecated, still supported
                    warnings.simplefilter("ignore", FutureWarning)
                    return torch.jit.load(str(self.path), map_location="cpu")
            except Exception as exc:  # torch raises RuntimeError and others
                raise GeotoolError(
                    f"{self.path} is not a TorchScript file ({exc}); for a torchvision "
                    "state dict give its architecture, e.g. --seg-arch deeplabv3_resnet50"
                ) from exc
        import torchvision

        try:
            net = torchvision.models.get_model(self.arch, weights=None, weights_backbone=None,
                                               num_classes=len(self.names))
        except ValueError as exc:
            raise GeotoolError(f"unknown torchvision segmentation model {self.arch!r}: "
                               f"{exc}") from exc
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
            net.load_state_dict(state)
        except Exception as exc:
            raise GeotoolError(f"cannot load {self.path} into {self.arch} with "
                               f"{len(self.names)} classes: {exc}") from exc
        return net

    @torch.no_grad()
    def label_map(self, image: ImageRef, photo: Image.Image) -> NDArray[Any] | MaskProblem:
        rgb = photo.convert("RGB")
        w, h = rgb.size
        scale = self.input_size / min(w, h)
        small = rgb.resize((max(1, round(w * scale)), max(1, round(h * scale))),
                           Image.Resampling.BILINEAR)
        x = torch.from_numpy(np.array(small)).permute(2, 0, 1).float().div(255)
        from geotool.learn.view import IMAGENET_MEAN, IMAGENET_STD  # the network's own input

        mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
        x = ((x - mean) / std).unsqueeze(0).to(self.device)
        out = self.net(x)
        if isinstance(out, dict):
            out = out["out"]
        logits = torch.nn.functional.interpolate(out.float(), size=(h, w), mode="bilinear",
                                                 align_corners=False)
        return logits.argmax(dim=1)[0].cpu().numpy()

    def describe(self) -> dict[str, Any]:
        return {"kind": "network", "path": str(self.path), "arch": self.arch,
                "vocabulary": self.vocabulary, "n_names": len(self.names),
                "input_size": self.input_size, "ignore": list(self.ignore)}


def make_segmenter(kind: str = "masks", *, names_file: Path | None = None,
                   folder: Path | None = None, model_path: Path | None = None,
                   arch: str | None = None, vocabulary: str | None = None,
                   device: str = "cpu") -> Segmenter:
    """Build a segmenter from CLI-style options.

    ``masks``: label-map files (``mask_path`` or ``folder``), ADE20k names unless
    ``names_file``; ``synth``: the synthetic planet's masks; ``network``: ``model_path``
    with ``names_file`` (and ``arch`` for a torchvision state dict).
    """
    if kind == "synth":
        return synthetic_masks()
    if kind == "masks":
        if names_file is None:
            return LabelMapFiles(vocabulary or "ade20k", _ade20k(), (0,), folder)
        return LabelMapFiles(vocabulary or Path(names_file).stem, read_names(names_file),
                             (), folder)
    if kind == "network":
        if model_path is None or names_file is None:
            raise GeotoolError("a segmentation network needs --seg-model FILE and "
                               "--seg-names FILE (one class name per line)")
        return NetworkSegmenter(model_path, read_names(names_file), arch, vocabulary,
                                device=device)
    raise GeotoolError(f"unknown segmenter {kind!r}: use masks, synth or network")
