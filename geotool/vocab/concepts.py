"""Concept vocabularies: K named geographic concepts in a TOML file (no PyTorch here).

They name the concept bank of an alignment model (geotool.learn.align) and are read by
its configuration check, training, prediction and reports; like the ADE20k classes they
belong to no stage, so they live in the lowest layer and import nothing of geotool but
its errors.

A vocabulary names the concepts of an alignment model's concept bank, in order, and
optionally where each concept's truth comes from::

    name = "planet"
    description = "..."
    [[concept]]
    name = "tower"
    mask = "tower"            # ADE20k class whose pixel share in the photo's mask is its truth
    informative = ["city"]    # designed signal (the synthetic planet); [] = uninformative
    [[concept]]
    name = "arid climate"
    climate = "arid"          # truth: the photo's place has this climate band

Built-in vocabularies (``geotool/vocab/concept_lists/``): ``planet`` (the synthetic
planet's rendered concepts and its four climates) and ``world`` (a real-world starter
list, no truth source). A vocabulary is given by built-in name or by path.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from geotool.errors import InvalidValueError, MissingInputError

BUILTIN_DIR = Path(__file__).parent / "concept_lists"


@dataclass(frozen=True)
class Concept:
    """One concept of a vocabulary."""

    name: str
    mask: str = ""  # ADE20k class name whose pixel share is this concept's truth
    climate: str = ""  # climate band whose places have this concept (truth = 1)
    informative: tuple[str, ...] | None = None  # designed levels; None = not known

    @property
    def has_truth(self) -> bool:
        return bool(self.mask or self.climate)


@dataclass(frozen=True)
class Vocabulary:
    """The ordered concepts of a concept bank."""

    name: str
    concepts: tuple[Concept, ...]
    description: str = ""
    source: str = field(default="", compare=False)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.concepts]

    def __len__(self) -> int:
        return len(self.concepts)

    def index(self, name: str) -> int:
        for i, c in enumerate(self.concepts):
            if c.name == name:
                return i
        raise InvalidValueError(f"vocabulary {self.name!r} has no concept {name!r}; its "
                                f"concepts: {', '.join(self.names)}")


def builtin_vocabularies() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def load_vocabulary(spec: str | Path) -> Vocabulary:
    """A built-in vocabulary by name (``planet``, ``world``) or a TOML file by path."""
    text = str(spec)
    if not text:
        raise InvalidValueError("no concept vocabulary given: set concept_vocab to a built-in "
                                f"name ({', '.join(builtin_vocabularies())}) or a TOML path")
    path = Path(text)
    if not path.suffix and (BUILTIN_DIR / f"{text}.toml").is_file():
        path = BUILTIN_DIR / f"{text}.toml"
    elif not path.is_file():
        if path.suffix:
            raise MissingInputError(f"concept vocabulary file {path} does not exist")
        raise InvalidValueError(f"unknown concept vocabulary {text!r}: use a built-in one "
                                f"({', '.join(builtin_vocabularies())}) or a TOML file path")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValueError(f"concept vocabulary {path} is not valid TOML: {exc}") from None
    return parse_vocabulary(table, str(path))


def parse_vocabulary(table: dict[str, object], source: str) -> Vocabulary:
    """Check a parsed vocabulary table; every problem is one line naming the file."""
    rows = table.get("concept")
    if not isinstance(rows, list) or len(rows) < 2:
        raise InvalidValueError(f"{source}: a vocabulary needs at least two [[concept]] "
                                "entries, each with a name")
    concepts: list[Concept] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("name"), str) or not row["name"]:
            raise InvalidValueError(f"{source}: concept {i + 1} has no name")
        unknown = set(row) - {"name", "mask", "climate", "informative"}
        if unknown:
            raise InvalidValueError(f"{source}: concept {row['name']!r} has unknown key(s) "
                                    f"{', '.join(sorted(unknown))} (known: name, mask, "
                                    "climate, informative)")
        if row["name"] in seen:
            raise InvalidValueError(f"{source}: concept {row['name']!r} appears twice")
        seen.add(row["name"])
        informative = row.get("informative")
        if informative is not None and not (isinstance(informative, list) and all(
                isinstance(x, str) for x in informative)):
            raise InvalidValueError(f"{source}: concept {row['name']!r}: informative must be "
                                    "a list of level names")
        if row.get("mask") and row.get("climate"):
            raise InvalidValueError(f"{source}: concept {row['name']!r} has both a mask and a "
                                    "climate truth; give one")
        concepts.append(Concept(row["name"], str(row.get("mask", "")),
                                str(row.get("climate", "")),
                                None if informative is None else tuple(informative)))
    name = str(table.get("name") or Path(source).stem)
    return Vocabulary(name, tuple(concepts), str(table.get("description", "")), source)


def check_names(vocab: Vocabulary, stored: list[str], what: str) -> None:
    """A model's stored concept names must be the vocabulary's (same order)."""
    if list(stored) != vocab.names:
        raise InvalidValueError(f"{what} was trained with concepts {stored}, not vocabulary "
                                f"{vocab.name!r} ({vocab.names}); use the model's own")
