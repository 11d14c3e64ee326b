"""Train/val/test splits without photographer leakage.

A photographer's photos share place and camera, so a random per-photo split would let a model
recognise the photographer instead of the place (the reason MP-16 and Im2GPS3k are split by
author). Whole clusters are assigned to one split each: clusters are shuffled with the seed and
each goes to the split furthest below its target number of photos, so even small sets get a
val and a test split when they have enough clusters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from geotool.synth.errors import SynthError

SPLITS = ("train", "val", "test")


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Both fractions in [0, 1) and leaving a positive share for training."""
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise SynthError(f"{name}={value} must be in [0, 1)")
    if val_fraction + test_fraction >= 1.0:
        raise SynthError(
            f"val_fraction + test_fraction = {val_fraction + test_fraction} leaves no photos for "
            "training; use shares that sum to less than 1"
        )


def split_by_cluster(
    clusters: Sequence[str], val_fraction: float, test_fraction: float, seed: int
) -> list[str]:
    """The split ("train", "val" or "test") of every photo, given each photo's cluster."""
    check_fractions(val_fraction, test_fraction)
    sizes = Counter(clusters)
    order = sorted(sizes)
    np.random.default_rng([seed, 0x5EED]).shuffle(order)
    total = len(clusters)
    targets = np.array([1.0 - val_fraction - test_fraction, val_fraction, test_fraction]) * total
    filled = np.zeros(3)
    assigned: dict[str, str] = {}
    for cluster in order:
        # the first of the most under-filled splits (ties go to train, then val)
        index = int(np.argmax(targets - filled))
        assigned[cluster] = SPLITS[index]
        filled[index] += sizes[cluster]
    return [assigned[c] for c in clusters]
