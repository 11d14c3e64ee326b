"""The concepts the synthetic photos draw, in ADE20k's ids (:mod:`geotool.vocab.ade20k`).

Label maps use the ids of the ADE20k SceneParsing benchmark, so a real ADE20k segmenter
produces masks in the same id space as our rendered ground truth and concept influence on
synthetic and on real photos is comparable.

``RENDERED_CONCEPTS`` are the classes the renderer draws; ``DESIGN`` says at which geographic
levels each of them carries signal (an empty list: looks the same everywhere).
"""

from __future__ import annotations

from collections.abc import Iterable

from geotool.synth.errors import SynthError
from geotool.vocab.ade20k import ADE20K_IDS, ADE20K_NAMES, UNLABELED

__all__ = [
    "ADE20K_IDS", "ADE20K_NAMES", "BUILDING", "CAR", "DESIGN", "FENCE", "GRASS", "HOUSE",
    "MOUNTAIN", "PERSON", "PLANT", "RENDERED_CONCEPTS", "ROAD", "SIDEWALK", "SKY", "TOWER",
    "TREE", "UNLABELED", "WATER", "check_rendered", "concept_id",
]

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
