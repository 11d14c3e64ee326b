"""How fast the synthetic photos render (single process, i.e. one core).

Measures, in the same run and on the same scenes:
- render: ``render_scene`` alone (numpy drawing of scene and label map);
- baseline: encoding the result (JPEG q90 + PNG label map, in memory), the unavoidable floor
  of writing a photo set;
- full: ``generate_photos`` end to end (sampling, reverse lookup, render, files, CSVs, JSON).
Ratios against the baseline make figures comparable across (loaded) machines.

    .venv/bin/python benchmarks/bench_synth_photos.py --n 1000 --size 128
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from geotool.synth.photos import StyleBook, generate_photos, scene_spec_for
from geotool.synth.sampling import SiteSampler
from geotool.synth.scene import noise_bank, render_scene
from geotool.synth.world import generate_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--countries", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        world = generate_world(3, args.countries, Path(tmp) / "world")
        sites = SiteSampler(world).sample(args.n, np.random.default_rng(0))
        book = StyleBook(world)
        gain = np.ones(3, dtype=np.float32)
        specs = [
            scene_spec_for(s, world.locate(s.lat, s.lon), book, gain, frozenset())[0]
            for s in sites
        ]
        noise = noise_bank(args.size, 0)

        def render_all() -> list[tuple[np.ndarray, np.ndarray]]:
            return [render_scene(spec, args.size, np.random.default_rng(i), noise)
                    for i, spec in enumerate(specs)]

        def best(fn: object) -> float:
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                fn()  # type: ignore[operator]
                times.append(time.perf_counter() - start)
            return min(times)

        rendered = render_all()

        def encode_all() -> None:
            for rgb, labels in rendered:
                Image.fromarray(rgb).save(io.BytesIO(), format="JPEG", quality=90)
                Image.fromarray(labels).save(io.BytesIO(), format="PNG", compress_level=1)

        t_render = best(render_all)
        t_encode = best(encode_all)
        start = time.perf_counter()
        generate_photos(Path(tmp) / "world", args.n, args.size, Path(tmp) / "photos", seed=0)
        t_full = time.perf_counter() - start

    n = args.n
    load = os.getloadavg()[0]
    print(f"synthetic photos, n={n}, size={args.size} px, 1 process, load average {load:.2f}")
    print(f"{'stage':<28}{'photos/s':>10}{'ms/photo':>10}{'vs encode':>11}")
    for name, t in (("render (numpy)", t_render), ("baseline: encode JPEG+PNG", t_encode),
                    ("full generate_photos", t_full)):
        print(f"{name:<28}{n / t:>10.0f}{1000 * t / n:>10.2f}{t / t_encode:>10.2f}x")


if __name__ == "__main__":
    main()
