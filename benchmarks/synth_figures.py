"""The pictures of docs/synthetic-planet.md: sample photos with masks, photos by country, a map.

    .venv/bin/python benchmarks/synth_figures.py --out docs/img
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from PIL import Image  # noqa: E402

from geotool.synth.concepts import ADE20K_IDS, RENDERED_CONCEPTS  # noqa: E402
from geotool.synth.photos import generate_photos  # noqa: E402
from geotool.synth.places import load_world  # noqa: E402
from geotool.synth.preview import colorize_labels, contact_sheet, label_palette  # noqa: E402
from geotool.synth.world import generate_world  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--world-seed", type=int, default=3)
    parser.add_argument("--countries", type=int, default=8)
    parser.add_argument("--n", type=int, default=600)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        world_dir = Path(tmp) / "world"
        generate_world(args.world_seed, args.countries, world_dir)
        world = load_world(world_dir)
        photos = generate_photos(world_dir, args.n, 128, Path(tmp) / "photos", seed=0)

        # 1. photos and their label maps
        sample = list(photos.records[:48:4])
        tiles: list[np.ndarray] = []
        for row in range(2):
            chunk = sample[row * 6:(row + 1) * 6]
            tiles += [photos.image(r) for r in chunk]
            tiles += [colorize_labels(photos.mask(r)) for r in chunk]
        sheet = contact_sheet(tiles, 6)
        fig, ax = plt.subplots(figsize=(10, 7.6))
        ax.imshow(sheet)
        ax.axis("off")
        palette = label_palette()
        handles = [Patch(color=palette[ADE20K_IDS[c]] / 255.0, label=f"{c} ({ADE20K_IDS[c]})")
                   for c in RENDERED_CONCEPTS]
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=7,
                  fontsize=8, frameon=False)
        fig.savefig(args.out / "synth-photos-masks.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        with Image.open(args.out / "synth-photos-masks.png") as im:
            small = im.convert("RGB").quantize(128)
        small.save(args.out / "synth-photos-masks.png", optimize=True)

        # 2. city photos, one row per country: the designed country signal
        by_country: dict[str, list[np.ndarray]] = defaultdict(list)
        for r in photos.records:
            if r.scene == "city" and r.country and len(by_country[r.country]) < 8:
                by_country[r.country].append(photos.image(r))
        rows = [tiles_ for tiles_ in by_country.values() if len(tiles_) == 8][:6]
        sheet_img = Image.fromarray(contact_sheet([t for row_ in rows for t in row_], 8))
        sheet_img.quantize(128).save(args.out / "synth-photos-by-country.png", optimize=True)

        # 3. the world: countries, states, cities by popularity, photo locations
        fig, ax = plt.subplots(figsize=(13, 5))
        for place in world.of_kind("state"):
            geom = world.geometry(place.key)
            for poly in getattr(geom, "geoms", [geom]):
                ax.plot(*poly.exterior.xy, color="0.7", lw=0.4)
        for place in world.of_kind("country"):
            geom = world.geometry(place.key)
            for poly in getattr(geom, "geoms", [geom]):
                ax.fill(*poly.exterior.xy, alpha=0.25)
                ax.plot(*poly.exterior.xy, color="0.2", lw=0.8)
            ax.annotate(place.name_en, (place.lon, place.lat), fontsize=8, ha="center")
        cities = world.of_kind("city")
        pops = np.array([c.popularity or 1.0 for c in cities])
        ax.scatter([c.lon for c in cities], [c.lat for c in cities], s=4 + 40 * pops / pops.max(),
                   color="k", label="cities (size: popularity)")
        ax.scatter([r.lon for r in photos.records], [r.lat for r in photos.records], s=2,
                   color="crimson", alpha=0.5, label=f"{args.n} photos")
        ax.set_aspect("equal")
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        ax.legend(loc="lower left", fontsize=8)
        fig.savefig(args.out / "synth-world-map.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
    print(f"wrote {sorted(p.name for p in args.out.glob('synth-*.png'))}")


if __name__ == "__main__":
    main()
