"""Is the synthetic planet's signal learnable but not trivial? Train a tiny CNN and see.

Generates (or reads) a world and a photo set, trains a small CNN from scratch on the train
split with one linear head per level (country, state, city, finest location = street or
landmark when the photo is near one), and prints test accuracy per level next to chance
(1/#classes) and the majority-class rate. The intended ladder, as in the paper's tables:
country far above chance, finer levels progressively lower, street level low.

It then measures what the paper measures, accuracy by distance: each head's predicted class
stands for that class's mean training coordinate (the spherical centroid of its training
photos), and the share of test photos whose true coordinate lies within 1 km (street), 25 km
(city), 200 km (region), 750 km (country) and 2500 km (continent) of it is reported per head,
next to two baselines: "majority" (always the centroid of the most frequent training class of
that level) and "chance" (a uniformly random class of that level, in expectation).

    .venv/bin/python benchmarks/calibrate_synth.py --n 3000 --size 64 --epochs 10
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch import nn

from geotool.synth.photos import PhotoRecord, PhotoSet, generate_photos
from geotool.synth.world import generate_world

LEVELS = ("country", "state", "city", "finest")
THRESHOLDS_KM = (("street", 1.0), ("city", 25.0), ("region", 200.0), ("country", 750.0),
                 ("continent", 2500.0))
EARTH_RADIUS_KM = 6371.0088


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(n, 3) unit vectors of coordinates in degrees."""
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray,
                 lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km (haversine formula), element-wise."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def class_centroids(keys: list[str], lat: np.ndarray, lon: np.ndarray,
                    classes: list[str]) -> np.ndarray:
    """(len(classes), 2) lat/lon of each class's spherical mean training coordinate."""
    index = {c: i for i, c in enumerate(classes)}
    sums = np.zeros((len(classes), 3))
    np.add.at(sums, [index[k] for k in keys], unit_vectors(lat, lon))
    sums /= np.linalg.norm(sums, axis=1, keepdims=True)
    return np.stack([np.degrees(np.arcsin(np.clip(sums[:, 2], -1, 1))),
                     np.degrees(np.arctan2(sums[:, 1], sums[:, 0]))], axis=1)


def within(distances: np.ndarray) -> list[float]:
    """Share of distances (any shape, last axis = photos) within each threshold."""
    return [float(np.mean(distances <= km)) for _, km in THRESHOLDS_KM]


def level_key(record: PhotoRecord, level: str) -> str:
    if level == "finest":
        return record.location[0] if record.location else "-"
    return getattr(record, level) or "-"


class TinyCNN(nn.Module):
    """Four conv blocks, global average pooling, one linear head per level."""

    def __init__(self, n_classes: list[int], width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = [3, width, 2 * width, 4 * width, 4 * width]
        for c_in, c_out in zip(channels, channels[1:], strict=False):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.heads = nn.ModuleList(nn.Linear(channels[-1], k) for k in n_classes)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        z = self.features(x)
        return [head(z) for head in self.heads]


def load_images(photo_set: PhotoSet, records: list[PhotoRecord]) -> torch.Tensor:
    arrays = np.stack([photo_set.image(r) for r in records])
    return torch.from_numpy(arrays).permute(0, 3, 1, 2).contiguous()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, help="existing world dir (default: generate)")
    parser.add_argument("--world-seed", type=int, default=3)
    parser.add_argument("--countries", type=int, default=8)
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, help="keep the photos here (default: temporary)")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        base = args.out or Path(tmp)
        world_dir = args.world
        if world_dir is None:
            world_dir = base / "world"
            generate_world(args.world_seed, args.countries, world_dir)
        start = time.perf_counter()
        photo_set = generate_photos(world_dir, args.n, args.size, base / "photos", args.seed,
                                    overwrite=True)
        print(f"generated {args.n} photos of {args.size}px in {time.perf_counter() - start:.1f}s")
        train = photo_set.split("train")
        test = photo_set.split("val") + photo_set.split("test")
        x_train, x_test = load_images(photo_set, train), load_images(photo_set, test)

    classes = [sorted({level_key(r, lv) for r in train}) for lv in LEVELS]
    index = [{c: i for i, c in enumerate(cs)} for cs in classes]
    y_train = torch.tensor([[index[j][level_key(r, lv)] for j, lv in enumerate(LEVELS)]
                            for r in train])
    model = TinyCNN([len(cs) for cs in classes])
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = args.epochs * ((len(train) + 63) // 64)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train), generator=generator)
        total = 0.0
        for batch in order.split(64):
            x = x_train[batch].float().div_(255.0)
            flip = torch.rand(len(batch), generator=generator) < 0.5
            x[flip] = x[flip].flip(-1)
            outputs = model(x)
            loss = sum(loss_fn(o, y_train[batch, j]) for j, o in enumerate(outputs))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(batch)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / len(train):.3f} "
              f"({time.perf_counter() - start:.0f}s)")

    model.eval()
    with torch.no_grad():
        predicted = [torch.cat(parts) for parts in zip(
            *(model(x_test[i:i + 256].float().div(255.0)) for i in range(0, len(test), 256)),
            strict=True)]
    print(f"\ntest: {len(test)} photos of photographers unseen in training ({len(train)} train)")
    print(f"{'level':<9}{'classes':>8}{'accuracy':>10}{'chance':>9}{'majority':>10}")
    for j, level in enumerate(LEVELS):
        truth = [level_key(r, level) for r in test]
        guess = [classes[j][int(k)] for k in predicted[j].argmax(1)]
        accuracy = float(np.mean([g == t for g, t in zip(guess, truth, strict=True)]))
        majority_class = Counter(level_key(r, level) for r in train).most_common(1)[0][0]
        majority = float(np.mean([t == majority_class for t in truth]))
        print(f"{level:<9}{len(classes[j]):>8}{accuracy:>10.3f}{1 / len(classes[j]):>9.3f}"
              f"{majority:>10.3f}")

    train_lat = np.array([r.lat for r in train])
    train_lon = np.array([r.lon for r in train])
    test_lat = np.array([r.lat for r in test])
    test_lon = np.array([r.lon for r in test])
    print("\naccuracy by distance: predicted class -> its mean training coordinate")
    print(f"{'head':<20}" + "".join(f"{f'{name} {km:g} km':>18}" for name, km in THRESHOLDS_KM))

    def row(label: str, shares: list[float]) -> None:
        print(f"{label:<20}" + "".join(f"{share:>18.3f}" for share in shares))

    for j, level in enumerate(LEVELS):
        centroids = class_centroids([level_key(r, level) for r in train], train_lat, train_lon,
                                    classes[j])
        chosen = centroids[predicted[j].argmax(1).numpy()]
        row(f"{level} head", within(haversine_km(chosen[:, 0], chosen[:, 1], test_lat,
                                                 test_lon)))
        majority_class = Counter(level_key(r, level) for r in train).most_common(1)[0][0]
        fixed = centroids[index[j][majority_class]]
        row(f"  {level} majority", within(haversine_km(fixed[0], fixed[1], test_lat, test_lon)))
        every = haversine_km(centroids[:, None, 0], centroids[:, None, 1], test_lat[None],
                             test_lon[None])
        row(f"  {level} chance", within(every))


if __name__ == "__main__":
    main()
