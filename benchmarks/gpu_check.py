"""One prepared run for a session that has the GPU machine (the `device` tool): check the
CUDA paths and measure throughput, without a database (the device machine has none).

What it does, each part timed and printed as one JSON line (all of it also to ``--out``):

1. ``env``: torch/torchvision versions, the GPU, bf16 support.
2. ``model_step``: ResNet-50 at 224 px training steps on ready tensors (three heads,
   SGD): fp32, bf16 autocast, bf16 autocast + channels_last — images/s.
3. ``train_from_jpegs``: geotool's training loader (``--workers`` processes, Pillow draft
   decode, the reference train transform) feeding bf16 + channels_last steps for
   ``--steps`` steps: images/s including loading, the share of wall time spent waiting for
   batches (the loader's share) and the GPU's utilisation (``nvidia-smi``, sampled).
4. ``predict``: five-crop and one-crop inference (fp16 autocast, channels_last) on ready
   crops — photos/s.
5. ``ddp``: ``torchrun --nproc_per_node N`` with NCCL, a few DDP steps of the small CNN;
   checks every rank ends with the same weights.

The issue's anchor: NVIDIA's DALI recipe reaches 2,470 images/s with ResNet-50 on one
A100; geotool's goal is >= 3,000 on the H200 including JPEG loading. Run, e.g.::

    python benchmarks/gpu_check.py --images 2048 --steps 200 --workers 14 --out gpu.json

On a CPU it runs too (tiny settings) so the script itself is tested here:
``python benchmarks/gpu_check.py --device cpu --images 32 --steps 2 --batch 8``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.bench_train import make_jpegs  # noqa: E402
from geotool.learn.data import EpochBatches, LabelledImages, TransformSpec, normalise  # noqa: E402
from geotool.learn.labels import ImageSource, LabelArrays  # noqa: E402
from geotool.learn.model import GeoClassifier  # noqa: E402
from geotool.learn.train import _loader, multi_head_loss  # noqa: E402

HEADS = [12893, 7202, 3298]  # the S2 reference partitioning's class counts (fine -> coarse)
RESULTS: dict[str, Any] = {}


def report(name: str, value: Any) -> None:
    RESULTS[name] = value
    print(json.dumps({name: value}), flush=True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_step(model: torch.nn.Module, device: torch.device, amp: torch.dtype | None,
              channels_last: bool) -> Any:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    def step(images_u8: torch.Tensor, targets: torch.Tensor) -> float:
        x = normalise(images_u8, device, channels_last)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            loss, _ = multi_head_loss(model(x), targets.to(device, non_blocking=True))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def bench_model_step(device: torch.device, batch: int, steps: int, size: int) -> None:
    out = {}
    images = torch.randint(0, 255, (batch, 3, size, size), dtype=torch.uint8)
    targets = torch.stack([torch.randint(0, n, (batch,)) for n in HEADS], 1)
    variants = [("fp32", None, False), ("bf16", torch.bfloat16, False),
                ("bf16_channels_last", torch.bfloat16, True)]
    for name, amp, cl in variants:
        if amp is not None and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            continue
        torch.manual_seed(0)
        model = GeoClassifier("resnet50", HEADS).to(device)
        if cl:
            model = model.to(memory_format=torch.channels_last)
        step = make_step(model, device, amp, cl)
        for _ in range(3):
            step(images, targets)  # warm-up (cuDNN autotune)
        sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            step(images, targets)
        sync(device)
        out[name] = round(steps * batch / (time.perf_counter() - t0), 1)
    report("model_step_images_per_s", {"batch": batch, "size": size, **out})


def gpu_sampler(stop: threading.Event, samples: list[float]) -> None:
    while not stop.is_set():
        try:
            text = subprocess.run(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                capture_output=True, text=True, timeout=5).stdout
            samples.append(float(text.split()[0]))
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            return
        stop.wait(0.5)


def bench_train_from_jpegs(device: torch.device, paths: list[Path], batch: int, steps: int,
                           workers: int, size: int) -> None:
    n = len(paths)
    rng = np.random.default_rng(0)
    targets = np.stack([rng.integers(0, k, n) for k in HEADS], 1).astype(np.int64)
    labels = LabelArrays(np.arange(n, dtype=np.int64), np.zeros(n), np.zeros(n), targets,
                         [ImageSource(str(p)) for p in paths])
    from geotool.learn.config import TrainConfig

    spec = TransformSpec(size, True, int(np.ceil(size * 320 / 224)))
    cfg = TrainConfig(workers=workers, prefetch_factor=4)
    amp = torch.bfloat16 if device.type != "cuda" or torch.cuda.is_bf16_supported() else None
    torch.manual_seed(0)
    model = GeoClassifier("resnet50", HEADS).to(device).to(memory_format=torch.channels_last)
    step = make_step(model, device, amp, True)
    stop, samples = threading.Event(), []
    sampler = threading.Thread(target=gpu_sampler, args=(stop, samples), daemon=True)
    done, waited, epoch = 0, 0.0, 0
    t_start = None
    while done < steps:
        loader = _loader(LabelledImages(labels, spec), EpochBatches(n, batch, epoch, 0), cfg,
                         device)
        it = iter(loader)
        while done < steps:
            t0 = time.perf_counter()
            try:
                b = next(it)
            except StopIteration:
                break
            if t_start is None:  # the first batch starts the clock (workers spun up)
                t_start, images_seen = time.perf_counter(), 0
                if device.type == "cuda":
                    sampler.start()
            else:
                waited += time.perf_counter() - t0
            step(b.images, b.targets)
            images_seen += len(b.images)
            done += 1
        epoch += 1
    sync(device)
    wall = time.perf_counter() - (t_start or time.perf_counter())
    stop.set()
    report("train_from_jpegs", {
        "steps": steps, "batch": batch, "workers": workers, "size": size,
        "images_per_s": round(images_seen / wall, 1),
        "loader_wait_share": round(waited / wall, 3),
        "gpu_utilisation_pct_median": statistics.median(samples) if samples else None})


def bench_predict(device: torch.device, batch: int, steps: int, size: int) -> None:
    from geotool.learn.inference import level_probabilities

    model = GeoClassifier("resnet50", HEADS).to(device).eval()
    out = {}
    for crops in (5, 1):
        x = torch.randn(batch, crops, 3, size, size, device=device)
        with torch.inference_mode():
            level_probabilities(model, x, "mean", amp=device.type == "cuda")
            sync(device)
            t0 = time.perf_counter()
            for _ in range(steps):
                level_probabilities(model, x, "mean", amp=device.type == "cuda")
            sync(device)
        out[f"crops_{crops}"] = round(steps * batch / (time.perf_counter() - t0), 1)
    report("predict_photos_per_s", {"batch": batch, "size": size, **out})


DDP_CHILD = r"""
import os, sys, torch, torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from geotool.learn.model import GeoClassifier
backend = sys.argv[1]
dist.init_process_group(backend)
rank = dist.get_rank()
dev = torch.device(f"cuda:{os.environ['LOCAL_RANK']}") if backend == "nccl" else torch.device("cpu")
torch.manual_seed(0)
model = GeoClassifier("small_cnn", [10, 3]).to(dev)
ddp = DDP(model, device_ids=[dev.index] if backend == "nccl" else None)
opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
g = torch.Generator().manual_seed(100 + rank)
for _ in range(3):
    x = torch.randn(8, 3, 96, 96, generator=g).to(dev)
    y0 = torch.randint(0, 10, (8,), generator=g).to(dev)
    y1 = torch.randint(0, 3, (8,), generator=g).to(dev)
    fine, coarse = ddp(x)
    loss = (torch.nn.functional.cross_entropy(fine, y0)
            + torch.nn.functional.cross_entropy(coarse, y1))
    opt.zero_grad(); loss.backward(); opt.step()
flat = torch.cat([p.detach().flatten() for p in model.parameters()])
gathered = [torch.zeros_like(flat) for _ in range(dist.get_world_size())]
dist.all_gather(gathered, flat)
if rank == 0:
    same = all(torch.equal(gathered[0], t) for t in gathered)
    print("DDP_SAME_WEIGHTS", same, dist.get_world_size(), flush=True)
dist.destroy_process_group()
"""


def check_ddp(device: torch.device, nproc: int) -> None:
    backend = "nccl" if device.type == "cuda" else "gloo"
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(DDP_CHILD)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node", str(nproc), fh.name, backend]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    os.unlink(fh.name)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("DDP_SAME")), "")
    report("ddp", {"backend": backend, "nproc": nproc, "returncode": proc.returncode,
                   "same_weights": line.split()[1] == "True" if line else None,
                   "stderr_tail": proc.stderr[-400:] if proc.returncode else ""})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--ddp-procs", type=int, default=0, help="0: one per GPU (CPU: 2)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    report("env", {"torch": torch.__version__, "cuda": torch.version.cuda,
                   "device": torch.cuda.get_device_name(device) if device.type == "cuda"
                   else "cpu", "bf16": device.type == "cuda" and torch.cuda.is_bf16_supported(),
                   "cpu_count": os.cpu_count()})
    bench_model_step(device, args.batch, max(2, args.steps // 4), args.size)
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_jpegs(Path(tmp), args.images)
        bench_train_from_jpegs(device, paths, args.batch, args.steps, args.workers, args.size)
    bench_predict(device, max(1, args.batch // 5), max(2, args.steps // 4), args.size)
    nproc = args.ddp_procs or (torch.cuda.device_count() if device.type == "cuda" else 2)
    check_ddp(device, nproc)
    if args.out:
        args.out.write_text(json.dumps(RESULTS, indent=1))


if __name__ == "__main__":
    main()
