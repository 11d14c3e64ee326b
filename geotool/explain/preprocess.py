"""The explained input: how a photo and its label map become the same H×W grid.

An explanation is computed on the model's validation view of a photo (docs/method.md,
"Augmentation"): shortest edge resized to ``resize``, then a centre crop of
``image_size`` — computed by :mod:`geotool.learn.view`, the one definition that training's
validation and ``geotool predict`` use too. The label map goes through the same geometry
with nearest-neighbour resampling, so every explanation pixel has exactly one concept id.

:func:`input_geometry` reads both sizes and the normalisation from a checkpoint: the
checkpoint's ``config`` may carry ``val_resize`` (what training validated with; or
``resize``), else the default of validation and prediction,
:func:`geotool.learn.inference.default_resize` (``round(image_size · 256 / 224)``: 256 at
224 px), so the explained view is the one ``geotool predict --crops 1`` classifies; and
``normalize`` (``{"mean": […], "std": […]}``, default ImageNet's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from geotool.errors import GeotoolError
from geotool.explain.attributions import Normalisation
from geotool.learn.view import centre_view, centre_view_labels, normalisation, view_resize


@dataclass(frozen=True)
class InputGeometry:
    """Shortest-edge resize, then centre crop; and the pixel normalisation."""

    resize: int
    crop: int
    norm: Normalisation

    def to_dict(self) -> dict[str, Any]:
        return {"resize": self.resize, "crop": self.crop,
                "mean": list(self.norm.mean), "std": list(self.norm.std)}


def input_geometry(image_size: int, config: dict[str, Any]) -> InputGeometry:
    """The explained input's geometry for a model trained at ``image_size``."""
    resize = view_resize(image_size, config)
    mean, std = normalisation(config)
    norm = Normalisation(mean, std)  # type: ignore[arg-type]
    if resize < image_size:
        raise GeotoolError(f"model config: resize {resize} is smaller than the crop "
                           f"{image_size}; fix the checkpoint's config")
    return InputGeometry(resize, int(image_size), norm)


def prepare_photo(img: Image.Image, geometry: InputGeometry) -> NDArray[np.uint8]:
    """RGB ``[crop, crop, 3]`` uint8: the photo as the model sees it (before normalising)."""
    return centre_view(img, geometry.crop, geometry.resize)


def prepare_mask(label_map: NDArray[Any], geometry: InputGeometry) -> NDArray[np.int64]:
    """The label map through the same resize (nearest) and crop as the photo."""
    return centre_view_labels(label_map, geometry.crop, geometry.resize)


def to_input(photos: list[NDArray[np.uint8]], geometry: InputGeometry,
             device: torch.device | str = "cpu") -> torch.Tensor:
    """Stack prepared photos into the normalised model input ``[B, 3, crop, crop]``."""
    arr = torch.from_numpy(np.stack(photos)).to(device)
    pixels = arr.permute(0, 3, 1, 2).float() / 255.0
    return geometry.norm.apply(pixels).contiguous()


def open_photo(path: str | Path) -> Image.Image:
    """Open a photo file, or raise GeotoolError naming it."""
    try:
        img = Image.open(path)
        img.load()
        return img
    except Image.DecompressionBombError as exc:
        raise GeotoolError(f"cannot read photo {path}: refused, too large to decode safely "
                           f"({exc})") from None
    except UnidentifiedImageError:
        raise GeotoolError(f"cannot read photo {path}: not an image Pillow can read") from None
    except OSError as exc:
        raise GeotoolError(f"cannot read photo {path}: {exc}") from exc
