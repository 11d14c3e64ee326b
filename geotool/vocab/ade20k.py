"""ADE20k's 150 scene-parsing classes (``objectInfo150``): the label ids of every mask.

Pixel value ``k`` in 1..150 is class ``ADE20K_NAMES[k]``, and 0 means "other / not
labelled". The synthetic renderer (``geotool.synth``) draws its ground-truth masks in these
ids and a real ADE20k segmenter (``geotool.explain.segmenters``) produces them, so concept
influence on synthetic and on real photos is comparable. It lives here, below both
stages, so that neither imports the other for it.
"""

from __future__ import annotations

__all__ = ["ADE20K_IDS", "ADE20K_NAMES", "UNLABELED"]

UNLABELED = 0

# Index k (1-based) of ADE20k's objectInfo150 table; index 0 is "other".
ADE20K_NAMES: tuple[str, ...] = (
    "other", "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed",
    "windowpane", "grass", "cabinet", "sidewalk", "person", "earth", "door", "table",
    "mountain", "plant", "curtain", "chair", "car", "water", "painting", "sofa", "shelf",
    "house", "sea", "mirror", "rug", "field", "armchair", "seat", "fence", "desk", "rock",
    "wardrobe", "lamp", "bathtub", "railing", "cushion", "base", "box", "column", "signboard",
    "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace", "refrigerator",
    "grandstand", "path", "stairs", "runway", "case", "pool table", "pillow", "screen door",
    "stairway", "river", "bridge", "bookcase", "blind", "coffee table", "toilet", "flower",
    "book", "hill", "bench", "countertop", "stove", "palm", "kitchen island", "computer",
    "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus", "towel", "light", "truck",
    "tower", "chandelier", "awning", "streetlight", "booth", "television receiver",
    "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman",
    "bottle", "buffet", "poster", "stage", "van", "ship", "fountain", "conveyer belt",
    "canopy", "washer", "plaything", "swimming pool", "stool", "barrel", "basket",
    "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food", "step", "tank",
    "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher", "screen",
    "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan",
    "fan", "pier", "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator",
    "glass", "clock", "flag",
)

ADE20K_IDS: dict[str, int] = {name: i for i, name in enumerate(ADE20K_NAMES) if i > 0}
