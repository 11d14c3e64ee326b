"""Gallery cache: an alignment model's prediction call with cached gallery embeddings vs
re-encoding the gallery on every call (what GeoCLIP does).

One "call" is what ``geotool predict-image`` does for a handful of photos: read the
gallery's coordinates from PostGIS, get the gallery's GPS embeddings, encode the photos
and take the batched top-k. The two sides differ only in the second step:

``cached``    hash the checkpoint file (the cache key's model half) and read the
              embeddings back from ``gallery_embeddings`` (``geotool.learn.align.cache``);
``re-encode`` run the GPS encoder over every gallery coordinate.

The gallery is GeoCLIP's ``coordinates_100K.csv`` from the installed ``geoclip`` wheel
(100,000 points); the model is ``build_align_model`` with the family's defaults — GeoCLIP's
GPS encoder shape (three σ branches, MLP 512→1024→1024→1024→512) — and a ``small_cnn``
image side (both sides run it alike). The first cached call (encode + store) is timed on
its own. Calls alternate, ``--runs`` re-encoding calls and ``--cached-runs`` cached ones;
min and median reported, plus the check that cached and re-encoded embeddings are equal.

    .venv/bin/python -m benchmarks.bench_gallery --runs 1 --cached-runs 3
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
import torch

from benchmarks.scratch_databases import ScratchDatabases
from geotool.learn.align.cache import encode_all, file_sha256, gallery_embeddings
from geotool.learn.align.gallery import GalleryParams, load_gallery, read_gallery
from geotool.learn.align.model import build_align_model
from geotool.learn.align.topk import topk_similarity


def _geoclip_csv() -> Path:
    spec = importlib.util.find_spec("geoclip")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the geoclip package is not installed (scripts/bootstrap.sh)")
    return Path(spec.submodule_search_locations[0]) / "model" / "gps_gallery" / \
        "coordinates_100K.csv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=2, help="re-encoding calls")
    ap.add_argument("--cached-runs", type=int, default=5, help="cached calls")
    ap.add_argument("--photos", type=int, default=8, help="photos per call")
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    ap.add_argument("--out", type=Path, default=None, help="write the JSON result here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    tmp = Path(tempfile.mkdtemp(prefix="geotool-bench-gallery-"))
    dbs = ScratchDatabases(tmp)
    try:
        engine = sa.create_engine(dbs.fresh())
        t0 = time.perf_counter()
        load_gallery(engine, GalleryParams("geoclip_100k", "csv", str(_geoclip_csv())))
        load_s = time.perf_counter() - t0

        model = build_align_model({"family": "align", "backbone": "small_cnn",
                                   "image_size": args.image_size, "concept_vocab": "world",
                                   "seed": 0}).eval()
        ckpt = tmp / "align.pt"
        torch.save({"model": model.state_dict()}, ckpt)
        torch.manual_seed(1)
        photos = torch.rand(args.photos, 3, args.image_size, args.image_size)

        def encode(coords: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                out: np.ndarray = model.encode_gps(torch.from_numpy(coords).float()).numpy()
                return out

        def answer(gallery_emb: np.ndarray) -> torch.Tensor:
            with torch.inference_mode():
                emb = model.encode_image(photos)
                return topk_similarity(emb, torch.from_numpy(gallery_emb), 10,
                                       float(model.logit_scale.exp())).index

        def call(cached: bool) -> tuple[float, np.ndarray, torch.Tensor]:
            start = time.perf_counter()
            with engine.connect() as conn:
                gallery = read_gallery(conn, "geoclip_100k")
            if cached:
                emb = gallery_embeddings(engine, gallery, file_sha256(ckpt), encode).embeddings
            else:
                emb = encode_all(gallery.coords, encode)
            top = answer(emb)
            return time.perf_counter() - start, emb, top

        first_s, first_emb, _ = call(True)  # encodes and stores: the one-time cost
        order = ["reencode"] + ["cached"] * max(1, args.cached_runs // max(args.runs, 1))
        times: dict[str, list[float]] = {"reencode": [], "cached": []}
        tops: dict[str, torch.Tensor] = {}
        embs: dict[str, np.ndarray] = {}
        while len(times["reencode"]) < args.runs or len(times["cached"]) < args.cached_runs:
            for kind in order:
                if len(times[kind]) >= (args.runs if kind == "reencode" else args.cached_runs):
                    continue
                seconds, emb, top = call(kind == "cached")
                times[kind].append(seconds)
                tops[kind], embs[kind] = top, emb
        with engine.connect() as conn:
            size = conn.execute(sa.text(
                "SELECT sum(octet_length(data)) FROM gallery_embeddings")).scalar()
        result: dict[str, Any] = {
            "gallery_points": int(first_emb.shape[0]), "embed_dim": int(first_emb.shape[1]),
            "photos_per_call": args.photos, "threads": torch.get_num_threads(),
            "gallery_load_s": round(load_s, 3), "first_cached_call_s": round(first_s, 3),
            "cache_bytes": int(size or 0),
            "checkpoint_bytes": ckpt.stat().st_size,
            **{f"{k}_s": {"min": round(min(v), 3), "median": round(statistics.median(v), 3),
                          "all": [round(x, 3) for x in v]} for k, v in times.items()},
            "speedup_median": round(statistics.median(times["reencode"])
                                    / statistics.median(times["cached"]), 1),
            "same_embeddings": bool(np.array_equal(embs["cached"], embs["reencode"])),
            "same_answers": bool(torch.equal(tops["cached"], tops["reencode"])),
        }
        text = json.dumps(result, indent=1)
        print(text)
        if args.out:
            args.out.write_text(text + "\n", encoding="utf-8")
        engine.dispose()
    finally:
        dbs.close()


if __name__ == "__main__":
    main()
