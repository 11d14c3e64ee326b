"""Training throughput on this machine: the data loader against the model, and JPEG
decoding at reduced scale against decode-then-resize.

- ``decode``: on ``--images`` 640×480 JPEGs, decoding to a short side of 256, 138 and
  92 px (what the crops of 224, 96 and 64 px models are taken from): Pillow's draft mode
  (decode at the smallest 1/2^k scale still large enough, then resize) against a full
  decode then resize — the same output size, alternated, ``--repeats`` runs, min/median.
- ``loader``: images/s of geotool's training loader (files → decode → random resized
  crop + flip → uint8 batch) with the default worker count (2), against ``model``: images/s
  of one training step (forward, backward, SGD) of the backbone on ready tensors of the
  same size, for ``small_cnn`` at 96 px and ``resnet50`` at 224 px. Goal: loader ≥ 2×
  model. Several runs, alternated, min/median reported.

    .venv/bin/python benchmarks/bench_train.py --images 256 --repeats 3
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from geotool.learn.data import EpochBatches, LabelledImages, TransformSpec, normalise
from geotool.learn.labels import ImageSource, LabelArrays
from geotool.learn.model import GeoClassifier
from geotool.learn.train import _loader, multi_head_loss


def make_jpegs(directory: Path, n: int, seed: int = 0) -> list[Path]:
    """Smooth random scenes (low-frequency noise upsampled, plus grain), 640×480, q 90."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        small = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((640, 480), Image.Resampling.BICUBIC)
        arr = np.asarray(img).astype(np.int16) + rng.integers(-12, 12, (480, 640, 3))
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        path = directory / f"{i:05d}.jpg"
        img.save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def decode_resize(data: bytes, short: int, draft: bool) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    if draft:
        img.draft("RGB", (short, short))
    img = img.convert("RGB")
    scale = short / min(img.size)
    return img.resize((round(img.width * scale), round(img.height * scale)),
                      Image.Resampling.BILINEAR)


def bench_decode(blobs: list[bytes], repeats: int, short: int) -> dict[str, object]:
    times: dict[str, list[float]] = {"draft": [], "full": []}
    for r in range(repeats):
        for mode in (("draft", "full") if r % 2 == 0 else ("full", "draft")):
            t0 = time.perf_counter()
            for b in blobs:
                decode_resize(b, short, mode == "draft")
            times[mode].append(len(blobs) / (time.perf_counter() - t0))
    return {"images": len(blobs), "short_side": short,
            "draft_images_per_s": {"min": min(times["draft"]),
                                   "median": statistics.median(times["draft"])},
            "full_images_per_s": {"min": min(times["full"]),
                                  "median": statistics.median(times["full"])},
            "ratio_median": statistics.median(times["draft"]) / statistics.median(times["full"])}


def bench_loader(labels: LabelArrays, size: int, batch: int, workers: int) -> float:
    from geotool.learn.config import TrainConfig

    spec = TransformSpec(size, True, int(np.ceil(size * 320 / 224)))
    cfg = TrainConfig(workers=workers, prefetch_factor=4)
    loader = _loader(LabelledImages(labels, spec),
                     EpochBatches(len(labels), batch, 0, 0), cfg, torch.device("cpu"))
    t0, n = time.perf_counter(), 0
    for b in loader:
        n += len(b.images)
    return n / (time.perf_counter() - t0)


def bench_model(backbone: str, size: int, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    model = GeoClassifier(backbone, [500, 200, 100])
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    images = torch.randint(0, 255, (batch, 3, size, size), dtype=torch.uint8)
    targets = torch.randint(0, 100, (batch, 3))
    model.train()

    def step() -> None:
        loss, _ = multi_head_loss(model(normalise(images, torch.device("cpu"), False)),
                                  targets)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads of the model process (0: PyTorch's default)")
    parser.add_argument("--decode-only", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out: dict[str, object] = {"torch_threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_jpegs(Path(tmp), args.images)
        blobs = [p.read_bytes() for p in paths]
        # short sides the crops are taken from: 256 (224 px val), 138 (96 px train),
        # 92 (64 px train); a 640x480 JPEG decodes at 1/2 scale only for 240 and less
        for short in (256, 138, 92):
            out[f"decode_640_to_{short}"] = bench_decode(blobs, args.repeats, short)
            print(json.dumps(out[f"decode_640_to_{short}"]), flush=True)
        if args.decode_only:
            return
        n = len(paths)
        labels = LabelArrays(np.arange(n, dtype=np.int64), np.zeros(n), np.zeros(n),
                             np.zeros((n, 3), dtype=np.int64),
                             [ImageSource(str(p)) for p in paths])
        for backbone, size, batch, steps in (("small_cnn", 96, 32, 6), ("resnet50", 224, 16, 3)):
            loader_runs, model_runs = [], []
            for r in range(args.repeats):
                first_loader = r % 2 == 0
                if first_loader:
                    loader_runs.append(bench_loader(labels, size, batch, args.workers))
                model_runs.append(bench_model(backbone, size, batch, steps))
                if not first_loader:
                    loader_runs.append(bench_loader(labels, size, batch, args.workers))
            out[f"{backbone}_{size}"] = {
                "loader_images_per_s": {"min": min(loader_runs),
                                        "median": statistics.median(loader_runs)},
                "model_train_images_per_s": {"min": min(model_runs),
                                             "median": statistics.median(model_runs)},
                "loader_over_model_median": statistics.median(loader_runs)
                / statistics.median(model_runs),
            }
            print(json.dumps(out, indent=1), flush=True)


if __name__ == "__main__":
    main()
