"""How fast concept influence runs: batched explanations and vectorised ci against naive loops.

Two comparisons, each against a baseline doing the same work in the same run, order
alternated, several runs, min and median reported:

- explain: :func:`geotool.explain.attributions.explain_batch` (B images x noise samples
  x IG steps through the network in passes of ``internal_batch_size``) against
  :func:`~geotool.explain.attributions.explain_per_image` (one captum NoiseTunnel call per
  image, captum's default batching). Same parameters and noise; the attributions are
  checked equal within tolerance before timing.
- ci: :func:`geotool.explain.influence.concept_influence` (all images, concepts and β in
  torch) against a per-image, per-concept NumPy/SciPy loop (argsort top-k,
  ``scipy.ndimage.binary_dilation``); same results checked first.

    .venv/bin/python benchmarks/bench_explain.py --images 16 --size 96 --arch small_cnn
    .venv/bin/python benchmarks/bench_explain.py --device cuda --arch resnet50 --size 224
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from geotool.explain.attributions import (
    ExplainParams,
    Normalisation,
    explain_batch,
    explain_per_image,
)
from geotool.explain.influence import concept_influence, scaled_k
from geotool.learn.model import GeoClassifier


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def compare(name: str, ours: Callable[[], Any], baseline: Callable[[], Any], runs: int,
            items: int) -> None:
    t_ours: list[float] = []
    t_base: list[float] = []
    for i in range(runs):  # alternate the order
        if i % 2 == 0:
            t_ours.append(timed(ours))
            t_base.append(timed(baseline))
        else:
            t_base.append(timed(baseline))
            t_ours.append(timed(ours))
    print(f"{name}: ours min {min(t_ours):.3f}s median {statistics.median(t_ours):.3f}s "
          f"({items / min(t_ours):.2f} images/s) | baseline min {min(t_base):.3f}s median "
          f"{statistics.median(t_base):.3f}s ({items / min(t_base):.2f} images/s) | "
          f"speed-up min/min {min(t_base) / min(t_ours):.2f}x, median/median "
          f"{statistics.median(t_base) / statistics.median(t_ours):.2f}x")


def numpy_ci(expl: np.ndarray, labels: np.ndarray, k: int, betas: list[int]
             ) -> dict[tuple[int, int, int], float]:
    out: dict[tuple[int, int, int], float] = {}
    full = np.ones((3, 3), dtype=bool)
    for i in range(expl.shape[0]):
        h, w = expl[i].shape
        kk = min(k, h * w)
        top = np.zeros(h * w, dtype=bool)
        top[np.argsort(-expl[i].ravel(), kind="stable")[:kk]] = True
        top = top.reshape(h, w)
        for c in np.unique(labels[i]):
            if c == 0:
                continue
            for beta in betas:
                mask = labels[i] == c
                if beta:
                    mask = ndimage.binary_dilation(mask, structure=full, iterations=beta)
                size = mask.sum() / (h * w)
                out[(i, int(c), beta)] = ((mask & top).sum() / kk) / size
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--arch", default="small_cnn")
    parser.add_argument("--noise-samples", type=int, default=8)
    parser.add_argument("--ig-steps", type=int, default=16)
    parser.add_argument("--internal-batch-size", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--ci-images", type=int, default=64)
    parser.add_argument("--ci-size", type=int, default=224)
    parser.add_argument("--betas", default="0,1,2", help="dilations of the ci comparison")
    parser.add_argument("--skip-explain", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {device}")

    if not args.skip_explain:
        torch.manual_seed(0)
        model = GeoClassifier(args.arch, [500, 100]).eval().to(device)
        for p in model.parameters():
            p.requires_grad_(False)
        plain = copy.deepcopy(model)  # the baseline's model stays in the default format
        norm = Normalisation()
        inputs = norm.apply(torch.rand(args.images, 3, args.size, args.size)).to(device)
        options = ExplainParams(noise_samples=args.noise_samples, ig_steps=args.ig_steps,
                                 internal_batch_size=args.internal_batch_size)
        if device.type == "cpu":
            a = explain_batch(model, inputs, options, norm, keep_attributions=True)
            b = explain_per_image(plain, inputs, options, norm)
            assert a.attributions is not None and b.attributions is not None
            scale = float(b.attributions.abs().max())
            diff = float((a.attributions - b.attributions).abs().max())
            print(f"explain: max |batched - per-image| = {diff:.3g} (scale {scale:.3g})")
            assert diff <= 2e-3 * scale  # channels-last kernels round differently
        compare(f"explain {args.arch} {args.size}px, {args.images} images, "
                f"{args.noise_samples} noise x {args.ig_steps} steps",
                lambda: explain_batch(model, inputs, options, norm, amp=True),
                lambda: explain_per_image(plain, inputs, options, norm),
                args.runs, args.images)

    rng = np.random.default_rng(0)
    n, s = args.ci_images, args.ci_size
    expl = rng.random((n, s, s)).astype(np.float32)
    coarse = rng.integers(0, 16, size=(n, s // 16, s // 16))
    labels = np.kron(coarse, np.ones((16, 16), dtype=np.int64))
    betas = [int(b) for b in args.betas.split(",")]
    k = scaled_k(s, s)
    rows = concept_influence(torch.from_numpy(expl), torch.from_numpy(labels), k=k,
                             betas=betas)
    ref = numpy_ci(expl, labels, k, betas)
    got = {(int(i), int(c), int(b)): float(v) for i, c, b, v in
           zip(rows.image, rows.concept, rows.beta, rows.ci, strict=True)}
    assert got.keys() == ref.keys()
    assert max(abs(got[key] - ref[key]) for key in ref) < 1e-9
    print(f"ci: {len(ref)} (image, concept, beta) values equal")
    compare(f"ci {n} images {s}px, 15 concepts, beta {args.betas}",
            lambda: concept_influence(torch.from_numpy(expl), torch.from_numpy(labels), k=k,
                                      betas=betas),
            lambda: numpy_ci(expl, labels, k, betas), args.runs, n)


if __name__ == "__main__":
    main()
