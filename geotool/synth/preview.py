"""Looking at synthetic photos: label maps in colour and contact sheets (for docs and debugging)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from geotool.vocab.ade20k import ADE20K_NAMES

# distinct colours for the concepts the renderer draws; other ids get a fixed pseudo-random one
_CONCEPT_COLOURS = {
    "sky": (110, 180, 255), "building": (200, 60, 60), "house": (240, 140, 40),
    "tower": (150, 40, 200), "mountain": (120, 90, 60), "tree": (20, 120, 20),
    "plant": (130, 220, 90), "grass": (190, 230, 120), "road": (90, 90, 90),
    "sidewalk": (190, 190, 170), "car": (255, 230, 0), "person": (255, 80, 200),
    "fence": (160, 110, 70), "water": (30, 60, 200),
}


def label_palette() -> NDArray[np.uint8]:
    """A 256×3 colour table for label maps (0, "other", is black)."""
    table = np.random.default_rng(150).integers(40, 256, (256, 3)).astype(np.uint8)
    table[0] = 0
    for i, name in enumerate(ADE20K_NAMES):
        if name in _CONCEPT_COLOURS:
            table[i] = _CONCEPT_COLOURS[name]
    return table


def colorize_labels(labels: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """An RGB picture of a label map."""
    return label_palette()[labels]


def contact_sheet(tiles: Sequence[NDArray[np.uint8]], columns: int, gap: int = 2
                  ) -> NDArray[np.uint8]:
    """Equal-sized RGB tiles in a grid, row by row, separated by white gaps."""
    if not tiles:
        raise ValueError("contact_sheet needs at least one tile")
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    sheet = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap, 3), 255, dtype=np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, columns)
        sheet[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tile
    return sheet
