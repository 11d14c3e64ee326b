"""The concept vocabulary of the synthetic photos: ADE20k's 150 scene-parsing classes.

Label maps use the ids of the ADE20k SceneParsing benchmark (``objectInfo150``): pixel value
``k`` in 1..150 is class ``ADE20K_NAMES[k]``, and 0 means "other / not labelled". A real
ADE20k segmenter therefore produces masks in the same id space as our rendered ground truth,
so concept influence computed on synthetic photos and on real photos is comparable.

``RENDERED_CONCEPTS`` are the classes the renderer draws; ``DESIGN`` says at which geographic
levels each of them carries signal (an empty list: looks the same everywhere).
"""

from __future__ import annotations

from collections.abc import Iterable

from geotool.synth.errors import SynthError

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

# What the renderer draws, and the levels at which each concept is informative.
# "climate" is a latitude band of the synthetic world (see styles.climate_of).
DESIGN: dict[str, list[str]] = {
    "sky": ["climate"],
    "building": ["country", "state"],
    "house": ["country", "state"],
    "tower": ["city"],
    "mountain": ["state"],
    "tree": ["climate"],
    "plant": ["climate"],
    "grass": [],
    "road": [],
    "sidewalk": [],
    "car": [],
    "person": [],
    "fence": [],
    "water": [],
}

RENDERED_CONCEPTS: tuple[str, ...] = tuple(DESIGN)

# Shorthand ids used by the renderer.
SKY = ADE20K_IDS["sky"]
BUILDING = ADE20K_IDS["building"]
HOUSE = ADE20K_IDS["house"]
TOWER = ADE20K_IDS["tower"]
MOUNTAIN = ADE20K_IDS["mountain"]
TREE = ADE20K_IDS["tree"]
PLANT = ADE20K_IDS["plant"]
GRASS = ADE20K_IDS["grass"]
ROAD = ADE20K_IDS["road"]
SIDEWALK = ADE20K_IDS["sidewalk"]
CAR = ADE20K_IDS["car"]
PERSON = ADE20K_IDS["person"]
FENCE = ADE20K_IDS["fence"]
WATER = ADE20K_IDS["water"]


def concept_id(name: str) -> int:
    """The ADE20k id of a concept name; ``SynthError`` naming the valid ones if unknown."""
    try:
        return ADE20K_IDS[name]
    except KeyError:
        raise SynthError(
            f"unknown concept {name!r}: use one of the rendered concepts "
            f"{', '.join(RENDERED_CONCEPTS)}"
        ) from None


def check_rendered(names: Iterable[str]) -> frozenset[str]:
    """Validate concept names given by a user (e.g. ``--without``) against what we render."""
    chosen = frozenset(names)
    unknown = sorted(chosen - set(RENDERED_CONCEPTS))
    if unknown:
        raise SynthError(
            f"unknown concept(s) {', '.join(map(repr, unknown))}: the renderer draws "
            f"{', '.join(RENDERED_CONCEPTS)}"
        )
    return chosen
