"""Inference on tensors: crops, combining crops, the hierarchical prediction, top-k.

Pure functions shared by ``geotool predict`` (many photos into the database) and
``geotool predict-image`` (a few photos, answered on the terminal), so both give the same
answer for the same photo.

**Crops.** A photo is resized so that its shortest edge is ``resize`` pixels (default
``round(size * 256 / 224)``: 256 for a 224 px model, the reference code's evaluation
resize; it resized to 320 for its validation five crops), then cut into ``FiveCrop(size)``
(four corners and the centre) or, with ``crops=1``, the centre crop alone. Pixels are
scaled to [0, 1] and normalised with the model's mean/std (``config["normalize"]`` of
the checkpoint, else ImageNet's).

**Combining crops.** Softmax per crop and level, then the mean over crops (the paper's
text, the default) or the element-wise maximum (what the reference code did; the result
no longer sums to one, which is fine for argmax and ranking).

**Hierarchical prediction.** For fine class f, score(f) = Π_k p_k(a_k(f)), where a_k(f)
is f's ancestor class at level k (``a_0(f) = f``); the prediction is argmax_f score(f).
A fine class without an ancestor at some level (an *orphan* there: no coarser location
on its path reached that level's τ) takes, for that level, the factor of the level below
it (``p_0(f)`` when it has no coarser ancestor at all): the probability its own region
would have as a class of that level, which is what a build that kept the root as a class
of every level would give a consistent model. A factor of 1 instead let a small country
with τ_fine ≤ n < τ_coarse beat classes with twice its probability. The ancestor matrix
is indexed by *fine* class for every level (the reference code indexed the coarse column
of its three-level matrix by middle classes).

Also here, because both model families' prediction uses them (and the alignment family's
must not import the classifier's ``predict`` module): the device choice
(:func:`pick_device`), reading photos into crop tensors (:func:`load_crops`) and the
summary of a prediction run (:class:`PredictSummary`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from geotool.errors import GeotoolError, InvalidValueError, UnavailableError
from geotool.learn.view import (  # noqa: F401  (re-exported: the view's one definition)
    IMAGENET_MEAN,
    IMAGENET_STD,
    default_resize,
    normalisation,
    view_crops,
)

COMBINES = ("mean", "max")
CROPS = (1, 5)
AMP_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def amp_mode(device: torch.device, amp: bool) -> str:
    """The autocast a forward pass on ``device`` runs under: ``off`` (CPU, or ``amp``
    off), ``bf16`` where the GPU has it (no overflow to inf/NaN: bf16 keeps float32's
    exponent range), else ``fp16``."""
    if not amp or device.type != "cuda":
        return "off"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def check_options(crops: int, combine: str, top_k: int) -> None:
    """Refuse options the prediction cannot honour, naming the option."""
    if crops not in CROPS:
        raise GeotoolError(f"--crops {crops}: choose 5 (five crops) or 1 (centre crop)")
    if combine not in COMBINES:
        raise GeotoolError(f"--combine {combine!r}: choose mean or max")
    if top_k < 1:
        raise GeotoolError(f"--top-k {top_k}: must be at least 1")


@dataclass(frozen=True)
class CropTransform:
    """Photo → tensor ``[crops, 3, size, size]`` (resize shortest edge, crop, normalise)."""

    size: int
    resize: int
    crops: int = 5
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD

    def __post_init__(self) -> None:
        # a shorter edge below the crop size cannot give the crops (torchvision would
        # raise a ValueError per photo, inside the loader)
        if self.resize < self.size:
            raise InvalidValueError(f"--resize {self.resize}: the shortest edge must be at "
                                    f"least the model's input size, {self.size} px")

    def __call__(self, image: Image.Image) -> torch.Tensor:
        pieces = view_crops(image, self.size, self.resize, self.crops)  # geotool.learn.view
        pixels = torch.from_numpy(np.stack([np.asarray(p, dtype=np.uint8) for p in pieces]))
        x = pixels.permute(0, 3, 1, 2).float().div_(255)
        mean = torch.tensor(self.mean, dtype=x.dtype).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype).view(1, 3, 1, 1)
        return ((x - mean) / std).contiguous()


def read_image(path: str | Path | None) -> Image.Image:
    """Open and decode a photo fully, or raise :class:`GeotoolError` saying why not."""
    if path is None:
        raise GeotoolError("the image has no file path")
    try:
        with Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except FileNotFoundError:
        raise GeotoolError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise GeotoolError(f"{path}: is a directory, not a photo") from None
    except Image.DecompressionBombError as exc:
        raise GeotoolError(f"{path}: refused, the image is too large to decode safely "
                           f"({exc})") from None
    except UnidentifiedImageError:
        raise GeotoolError(f"{path}: not an image Pillow can read (empty, damaged or "
                           "another format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise GeotoolError(f"{path}: cannot decode the image ({exc})") from None


def combine_crops(probs: torch.Tensor, how: str = "mean") -> torch.Tensor:
    """``[B, crops, n]`` per-crop probabilities → ``[B, n]`` by mean or max."""
    if how == "mean":
        return probs.mean(dim=1)
    if how == "max":
        return probs.amax(dim=1)
    raise GeotoolError(f"unknown crop combination {how!r}; choose mean or max")


def hierarchical_scores(level_probs: Sequence[np.ndarray], ancestors: np.ndarray) -> np.ndarray:
    """score[b, f] = Π_k factor_k[b, f], factor_k = p_k[b, ancestors[k, f]], or where
    ``ancestors[k, f] < 0`` (an orphan at level k) factor_{k-1} (factor_0 = p_0[b, f]).

    ``level_probs[k]``: ``[B, n_k]``; ``ancestors``: ``[L, n_0]`` class indices, row 0 the
    identity. Returns ``[B, n_0]`` float64.
    """
    n_fine = level_probs[0].shape[1]
    if ancestors.shape != (len(level_probs), n_fine):
        raise ValueError(f"ancestor matrix has shape {ancestors.shape}, expected "
                         f"{(len(level_probs), n_fine)}")
    factor = np.asarray(level_probs[0], dtype=np.float64).copy()
    score = factor.copy()
    for k in range(1, len(level_probs)):
        anc = ancestors[k]
        known = anc >= 0
        factor = factor.copy()  # an orphan keeps the factor of the level below
        factor[:, known] = np.asarray(level_probs[k], dtype=np.float64)[:, anc[known]]
        score *= factor
    return score


def finite_rows(probs: Sequence[np.ndarray]) -> np.ndarray:
    """``[B]`` bool: the photos whose probabilities are finite at every level (a NaN
    would otherwise become class 0 by argmax)."""
    ok = np.ones(probs[0].shape[0], dtype=bool)
    for p in probs:
        ok &= np.isfinite(p).all(axis=1)
    return ok


@dataclass
class BatchAnswer:
    """The answers for a batch of B photos of a model with L levels.

    ``probs[k]``: ``[B, n_k]`` combined probabilities; ``flat_index/flat_prob``: ``[L, B]``;
    ``hier_index/hier_prob``: ``[L, B]`` (the hierarchical fine class and its ancestor at
    every level, -1 where it has none; the probability is that level's); ``topk_index``/
    ``topk_prob``: per level ``[B, k]``, most probable first.
    """

    probs: list[np.ndarray]
    flat_index: np.ndarray
    flat_prob: np.ndarray
    hier_index: np.ndarray
    hier_prob: np.ndarray
    topk_index: list[np.ndarray]
    topk_prob: list[np.ndarray]


def answer_from_probs(probs: Sequence[np.ndarray], ancestors: np.ndarray,
                      top_k: int) -> BatchAnswer:
    """Flat, hierarchical and top-k answers from combined per-level probabilities."""
    probs = [np.asarray(p) for p in probs]
    batch = probs[0].shape[0]
    levels = len(probs)
    flat_index = np.stack([p.argmax(axis=1) for p in probs])
    rows = np.arange(batch)
    flat_prob = np.stack([p[rows, i] for p, i in zip(probs, flat_index, strict=True)])
    fine = hierarchical_scores(probs, ancestors).argmax(axis=1)
    hier_index = np.stack([ancestors[k, fine] for k in range(levels)])
    hier_prob = np.zeros((levels, batch))
    for k in range(levels):
        has = hier_index[k] >= 0
        hier_prob[k, has] = probs[k][rows[has], hier_index[k, has]]
    topk_index, topk_prob = [], []
    for p in probs:
        k = min(top_k, p.shape[1])
        part = np.argpartition(-p, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(p, part, axis=1), axis=1, kind="stable")
        idx = np.take_along_axis(part, order, axis=1)
        topk_index.append(idx)
        topk_prob.append(np.take_along_axis(p, idx, axis=1))
    return BatchAnswer(probs, flat_index, flat_prob, hier_index, hier_prob,
                       topk_index, topk_prob)


def identity_ancestors(n_classes: Sequence[int]) -> np.ndarray:
    """An ancestor matrix with only the fine level known (for a one-level model)."""
    out = np.full((len(n_classes), n_classes[0]), -1, dtype=np.int64)
    out[0] = np.arange(n_classes[0])
    return out


@torch.no_grad()
def level_probabilities(model: torch.nn.Module, crops: torch.Tensor, combine: str,
                        amp: bool = False) -> list[np.ndarray]:
    """``crops`` ``[B, C, 3, S, S]`` → per level ``[B, n_k]`` combined probabilities.

    Softmax runs in float32 even under autocast (bf16/fp16 logits, fp32 probabilities);
    the autocast type is :func:`amp_mode`'s. Non-finite values are passed on: callers
    drop those photos (:func:`finite_rows`).
    """
    batch, n_crops = crops.shape[:2]
    flat = crops.flatten(0, 1)
    device = flat.device
    if device.type == "cuda":
        flat = flat.contiguous(memory_format=torch.channels_last)
    mode = amp_mode(device, amp)
    with torch.autocast(device_type=device.type, dtype=AMP_DTYPES.get(mode, torch.float16),
                        enabled=mode != "off"):
        logits = model(flat)
    out = []
    for lg in logits:
        p = torch.softmax(lg.float(), dim=1).view(batch, n_crops, -1)
        out.append(combine_crops(p, combine).cpu().numpy().astype(np.float64))
    return out


# --------------------------------------------------------------------------- shared by
# both families' prediction (geotool.learn.predict, geotool.learn.align.predict)
@dataclass
class PredictSummary:
    """What one call of :func:`predict` did."""

    model: str
    prediction_run_id: int
    predicted: int = 0
    failed: int = 0
    already_done: int = 0  # photos answered or recorded as unreadable by an earlier call
    seconds: float = 0.0
    failed_before: int = 0  # of already_done: unreadable in an earlier call (--retry-failed)

    @property
    def images_per_s(self) -> float:
        return self.predicted / self.seconds if self.seconds > 0 else 0.0


def pick_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; otherwise the named device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InvalidValueError(f"--device {name!r}: choose auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UnavailableError(f"--device {name}: CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InvalidValueError(f"--device {name}: this machine has "
                                    f"{torch.cuda.device_count()} CUDA device(s)")
    elif device.type != "cpu":
        raise InvalidValueError(f"--device {name!r}: choose auto, cpu, cuda or cuda:N")
    return device


class _PhotoFiles(torch.utils.data.Dataset[tuple[int, torch.Tensor | None, str | None]]):
    """Photo paths → crops tensors; a photo that cannot be read yields its reason."""

    def __init__(self, paths: Sequence[str | None], transform: CropTransform) -> None:
        self.paths = list(paths)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None, str | None]:
        try:
            return index, self.transform(read_image(self.paths[index])), None
        except GeotoolError as exc:
            return index, None, str(exc)


def _collate(items: list[tuple[int, torch.Tensor | None, str | None]]
             ) -> list[tuple[int, torch.Tensor | None, str | None]]:
    return items


def load_crops(paths: Sequence[str | None], transform: CropTransform, workers: int = 0
               ) -> tuple[torch.Tensor | None, list[int], dict[int, str]]:
    """Crops of the readable photos ``[n_ok, C, 3, S, S]``, their positions, and the
    reason per position of each unreadable one."""
    data = _PhotoFiles(paths, transform)
    if workers > 0:
        loader = torch.utils.data.DataLoader(data, batch_size=max(1, len(data)),
                                             num_workers=workers, collate_fn=_collate)
        items = [item for batch in loader for item in batch]
    else:
        items = [data[i] for i in range(len(data))]
    ok = [(i, t) for i, t, _ in items if t is not None]
    failed = {i: reason for i, t, reason in items if t is None and reason is not None}
    if not ok:
        return None, [], failed
    return torch.stack([t for _, t in ok]), [i for i, _ in ok], failed
