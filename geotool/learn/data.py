"""Images for training: decoding, the reference transforms, the dataset and its sampler.

Every random choice of an epoch is a pure function of ``(seed, epoch)``: the order of
the images (one permutation per epoch, cut into global batches, each rank taking its
slice of every batch — rank-aware, unlike the reference shard reader where every GPU
read everything) and each item's augmentation (a NumPy generator seeded with
``(seed, epoch, position in the epoch)``, not the worker's RNG). So a run resumed at any
step sees exactly the batches an uninterrupted run sees, with any number of workers.

Transforms follow the reference code: train = random resized crop (area share
0.66–1.0, aspect ratio 3/4–4/3) + horizontal flip, taken in the decoded image's own
coordinates and resized once (one resampling instead of two), from JPEGs decoded at a
reduced scale (Pillow's draft mode: the IDCT scales by 1/2, 1/4 or 1/8) when the source
is much larger than needed. Validation is :func:`geotool.learn.view.centre_view`, the view
``geotool predict --crops 1`` and the concept pass classify, pixel for pixel (full-scale
decode, shortest edge resized, centre crop). Items come back as uint8 tensors;
normalisation (:func:`normalise`, the constants of :mod:`geotool.learn.view` that every
checkpoint's config records) happens on the batch, on the training device.

A missing, corrupt or undecodable image does not stop the run: its item carries the
reason instead of pixels, the batch leaves it out, and the loop records it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from geotool.errors import InvalidValueError
from geotool.learn.badimage import BadImage
from geotool.learn.labels import ImageSource, LabelArrays
from geotool.learn.shards import read_shard_image
from geotool.learn.view import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    centre_offset,
    centre_view,
    resized_size,
)

#: the "flip" code of a crop plan that means: resize the whole image, take the centre crop
VIEW = 2


def decode_reason(exc: BaseException) -> str:
    """Why Pillow could not decode bytes, without the ``<_io.BytesIO object at 0x…>`` its
    message names instead of the file (the caller adds the file's name)."""
    if isinstance(exc, UnidentifiedImageError):
        return "not an image Pillow can read (empty, damaged or another format)"
    if isinstance(exc, Image.DecompressionBombError):
        return f"refused, too large to decode safely ({exc})"
    return str(exc)


def source_name(source: ImageSource) -> str:
    """The file (or shard record) an image comes from, for messages."""
    if source.shard_path is not None:
        return f"{source.shard_path}@{source.offset}"
    return str(source.path)


def read_image_bytes(source: ImageSource) -> bytes:
    """The encoded bytes of an image (file or shard record)."""
    if source.shard_path is not None:
        return read_shard_image(source.shard_path, source.offset, source.length)
    if source.path is None:
        raise BadImage("no path and no shard record")
    try:
        with open(source.path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise BadImage(f"missing file {source.path}") from None
    except OSError as exc:
        raise BadImage(f"cannot read {source.path}: {exc}") from None


def decode_image(data: bytes, min_short_side: int, draft: bool = True) -> Image.Image:
    """Decode to RGB; with ``draft``, a JPEG is decoded at the smallest 1/2^k scale whose
    shortest edge is still at least ``min_short_side``."""
    try:
        opened = Image.open(io.BytesIO(data))
        if draft and opened.format == "JPEG":
            opened.draft("RGB", (min_short_side, min_short_side))
        img = opened.convert("RGB")
        img.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError,
            SyntaxError) as exc:
        raise BadImage(f"cannot decode: {decode_reason(exc)}") from None
    if img.width < 1 or img.height < 1:
        raise BadImage("empty image")
    return img


def random_resized_box(width: int, height: int, rng: np.random.Generator,
                       scale: tuple[float, float], ratio: tuple[float, float]
                       ) -> tuple[int, int, int, int]:
    """torchvision's RandomResizedCrop choice, drawn from ``rng``: (left, top, w, h)."""
    area = width * height
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return left, top, w, h
    in_ratio = width / height  # fallback: the centre crop of the clamped aspect ratio
    if in_ratio < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif in_ratio > ratio[1]:
        w, h = round(height * ratio[1]), height
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h


@dataclass(frozen=True)
class TransformSpec:
    """Sizes and augmentation of one split."""

    size: int
    train: bool
    resize: int  # shortest edge the crop is taken from (decode target)
    scale: tuple[float, float] = (0.66, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: bool = True
    draft: bool = True


def transform_image(img: Image.Image, spec: TransformSpec,
                    rng: np.random.Generator | None) -> torch.Tensor:
    """Train: crop (+ flip) and resize once; validation: the view prediction and the
    concept pass see (:func:`geotool.learn.view.centre_view`). uint8 tensor [3, size, size]."""
    if not spec.train:
        arr = centre_view(img, spec.size, spec.resize)
        return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()
    assert rng is not None
    left, top, w, h = random_resized_box(img.width, img.height, rng, spec.scale, spec.ratio)
    flip = spec.flip and bool(rng.random() < 0.5)
    out = img.resize((spec.size, spec.size), Image.Resampling.BILINEAR,
                     box=(left, top, left + w, top + h))
    if flip:
        out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    arr = np.asarray(out, dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


# (pixels uint8 [3,S,S] — or the encoded JPEG bytes [n] when decoding on the device —,
#  targets, row, bad reason, crop plan (left, top, w, h, flip) when encoded)
Item = tuple[torch.Tensor | None, torch.Tensor, int, str | None,
             tuple[int, int, int, int, int] | None]


def crop_plan(width: int, height: int, spec: TransformSpec,
              rng: np.random.Generator | None) -> tuple[int, int, int, int, int]:
    """The crop box and flip of one item, in the image's full-resolution coordinates.

    Validation returns ``(0, 0, resized width, resized height, VIEW)``: resize the whole
    image, then take the centre crop — the view of :mod:`geotool.learn.view`, decoded on
    the device."""
    if spec.train:
        assert rng is not None
        left, top, w, h = random_resized_box(width, height, rng, spec.scale, spec.ratio)
        return left, top, w, h, int(spec.flip and bool(rng.random() < 0.5))
    return (0, 0, *resized_size(width, height, spec.resize), VIEW)


class LabelledImages(Dataset[Item]):
    """Items ``(image uint8 [3,S,S] | None, targets [levels], row, bad reason | None)``.

    Indexed by ``(row, sample_seed)`` pairs from :class:`EpochBatches`; ``sample_seed``
    seeds the item's augmentation.
    """

    def __init__(self, labels: LabelArrays, spec: TransformSpec, encoded: bool = False) -> None:
        self.labels = labels
        self.spec = spec
        self.encoded = encoded  # return JPEG bytes + crop plan (decoded on the device)
        self.targets = torch.from_numpy(labels.classes)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, key: tuple[int, int]) -> Item:
        row, sample_seed = key
        rng = np.random.default_rng(sample_seed) if self.spec.train else None
        try:
            data = read_image_bytes(self.labels.sources[row])
            if self.encoded:
                try:
                    header = Image.open(io.BytesIO(data))
                except (UnidentifiedImageError, Image.DecompressionBombError, OSError,
                        ValueError) as exc:
                    raise BadImage(f"cannot decode: {decode_reason(exc)}") from None
                if header.format != "JPEG":
                    raise BadImage(f"not a JPEG ({header.format}): decode on the CPU")
                plan = crop_plan(header.width, header.height, self.spec, rng)
                raw = torch.frombuffer(bytearray(data), dtype=torch.uint8)
                return raw, self.targets[row], row, None, plan
            img = decode_image(data, self.spec.resize, self.spec.draft)
            tensor = transform_image(img, self.spec, rng)
        except BadImage as exc:
            reason = str(exc)
            name = source_name(self.labels.sources[row])
            if name not in reason:
                reason = f"{name}: {reason}"
            return None, self.targets[row], row, reason, None
        return tensor, self.targets[row], row, None, None


@dataclass
class Batch:
    """The good items of a batch and the bad ones left out."""

    images: torch.Tensor  # uint8 [b, 3, S, S] (empty when encoded)
    targets: torch.Tensor  # int64 [b, levels]
    rows: torch.Tensor  # int64 [b]
    bad: list[tuple[int, str]]  # (row, reason)
    encoded: list[torch.Tensor] | None = None  # JPEG bytes, decoded on the device
    plans: torch.Tensor | None = None  # int64 [b, 5]: left, top, w, h, flip

    def __len__(self) -> int:
        return len(self.rows)

    def pin_memory(self) -> Batch:
        return Batch(self.images.pin_memory(), self.targets.pin_memory(), self.rows, self.bad,
                     self.encoded, self.plans)


def collate(items: Sequence[Item]) -> Batch:
    good = [it for it in items if it[0] is not None]
    bad = [(it[2], str(it[3])) for it in items if it[0] is None]
    targets = (torch.stack([it[1] for it in good]) if good
               else torch.empty(0, dtype=torch.int64))
    rows = torch.tensor([it[2] for it in good], dtype=torch.int64)
    if good and good[0][4] is not None:
        return Batch(torch.empty(0, dtype=torch.uint8), targets, rows, bad,
                     [it[0] for it in good],  # type: ignore[misc]
                     torch.tensor([it[4] for it in good], dtype=torch.int64))
    images = (torch.stack([it[0] for it in good])  # type: ignore[misc]
              if good else torch.empty(0, dtype=torch.uint8))
    return Batch(images, targets, rows, bad)


def batch_pixels(batch: Batch, size: int, device: torch.device) -> Batch:
    """The batch with its pixels, uint8 [b,3,S,S], on ``device``; images that failed to
    decode there move to ``bad``.

    Encoded batches are decoded with ``torchvision.io.decode_jpeg`` on ``device`` (nvJPEG
    on CUDA), cropped, resized (bilinear, antialiased) and flipped there.
    """
    if batch.encoded is None:
        return Batch(batch.images.to(device, non_blocking=True), batch.targets, batch.rows,
                     batch.bad)
    import warnings

    from torchvision.io import ImageReadMode, decode_jpeg

    assert batch.plans is not None
    with warnings.catch_warnings():  # torchvision 0.29 deprecates its decoders (TorchCodec)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            decoded = decode_jpeg(batch.encoded, mode=ImageReadMode.RGB, device=device)
            failed: list[int] = []
        except RuntimeError:  # one damaged file fails the whole call: decode one by one
            decoded, failed = [], []
            for i, raw in enumerate(batch.encoded):
                try:
                    decoded.append(decode_jpeg(raw, mode=ImageReadMode.RGB, device=device))
                except RuntimeError:
                    failed.append(i)
    keep = [i for i in range(len(batch.encoded)) if i not in failed]
    out = []
    for img, i in zip(decoded, keep, strict=True):
        left, top, w, h, flip = (int(v) for v in batch.plans[i])
        if flip == VIEW:  # validation: resize the whole image, then the centre crop
            whole = torch.nn.functional.interpolate(
                img.unsqueeze(0).float(), size=(h, w), mode="bilinear", align_corners=False,
                antialias=True).round_().clamp_(0, 255)
            top, left = centre_offset(h, size), centre_offset(w, size)
            out.append(whole[:, :, top:top + size, left:left + size].to(torch.uint8))
            continue
        crop = img[:, top:top + h, left:left + w].unsqueeze(0).float()
        resized = torch.nn.functional.interpolate(crop, size=(size, size), mode="bilinear",
                                                  align_corners=False, antialias=True)
        if flip:
            resized = resized.flip(-1)
        out.append(resized.round_().clamp_(0, 255).to(torch.uint8))
    pixels = (torch.cat(out) if out
              else torch.empty(0, 3, size, size, dtype=torch.uint8, device=device))
    bad = batch.bad + [(int(batch.rows[i]), "cannot decode on the device") for i in failed]
    return Batch(pixels, batch.targets[keep], batch.rows[keep], bad)


def steps_per_epoch(n: int, global_batch: int) -> int:
    """Full global batches per epoch (the last partial batch is dropped)."""
    return n // global_batch


class EpochBatches:
    """One rank's batches of one epoch, from ``start_step`` on: lists of (row, seed).

    The epoch's order is ``default_rng([seed, epoch]).permutation(n)``; global batch
    ``s`` is positions ``s·B … (s+1)·B-1`` of it, and rank ``r`` of ``w`` takes the
    ``r``-th of its ``w`` equal slices. The item at epoch position ``p`` is augmented
    with ``default_rng([seed, epoch, p])``: independent of ranks, workers and resumes.
    """

    def __init__(self, n: int, global_batch: int, seed: int, epoch: int, rank: int = 0,
                 world: int = 1, start_step: int = 0) -> None:
        if global_batch % world:
            raise InvalidValueError(
                f"batch size {global_batch} is not divisible by the {world} processes; "
                f"give --batch-size a multiple of {world}")
        self.n, self.global_batch, self.seed, self.epoch = n, global_batch, seed, epoch
        self.rank, self.world, self.start_step = rank, world, start_step
        self.per_rank = global_batch // world

    def __len__(self) -> int:
        return max(0, steps_per_epoch(self.n, self.global_batch) - self.start_step)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        for step in range(self.start_step, steps_per_epoch(self.n, self.global_batch)):
            first = step * self.global_batch + self.rank * self.per_rank
            yield [(int(order[p]), _sample_seed(self.seed, self.epoch, p))
                   for p in range(first, first + self.per_rank)]


def _sample_seed(seed: int, epoch: int, position: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, position]).generate_state(1)[0])


class ValBatches:
    """Validation batches in row order, rank ``r`` taking rows ``r, r+w, …``."""

    def __init__(self, n: int, batch: int, rank: int = 0, world: int = 1) -> None:
        self.rows = list(range(rank, n, world))
        self.batch = batch

    def __len__(self) -> int:
        return math.ceil(len(self.rows) / self.batch)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for start in range(0, len(self.rows), self.batch):
            yield [(r, 0) for r in self.rows[start:start + self.batch]]


def normalise(images: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    """uint8 [B,3,S,S] → float, ImageNet-normalised, on ``device``."""
    x = images.to(device, non_blocking=True).float().div_(255)
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    x = (x - mean) / std
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x
