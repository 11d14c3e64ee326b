"""Pronounceable, unique, seed-deterministic names for the synthetic planet.

Every synthetic place needs a local ``name`` and an English ``name:en`` so that the reverse
geocoder's answers read like real ones ("Torre Valmira → Kessaro → ..."). A country gets a
*language* (a syllable inventory and a set of patterns for streets and landmarks); names are
built from syllables and are unique within one world.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z",
          "br", "dr", "gr", "kr", "tr", "st", "sh", "ch", "th", "pl", "fl")
VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "ou")
CODAS = ("", "", "", "n", "r", "l", "s", "m", "th", "nd", "rk")


@dataclass(frozen=True)
class Language:
    """How one country words its places: local patterns and their English counterparts.

    Patterns hold ``{}`` where the generated stem goes.
    """

    code: str
    street: str
    avenue: str
    landmark: dict[str, str]


ENGLISH = Language(
    "en", "{} Street", "{} Avenue",
    {"tower": "{} Tower", "museum": "{} Museum", "church": "Church of {}",
     "building": "{} Hall", "monument": "{} Monument"},
)
LANGUAGES = (
    ENGLISH,
    Language("de", "{}straße", "{}allee",
             {"tower": "{}turm", "museum": "{}museum", "church": "{}kirche",
              "building": "{}haus", "monument": "{}denkmal"}),
    Language("fr", "Rue {}", "Avenue {}",
             {"tower": "Tour {}", "museum": "Musée {}", "church": "Église {}",
              "building": "Palais {}", "monument": "Monument {}"}),
    Language("es", "Calle {}", "Avenida {}",
             {"tower": "Torre {}", "museum": "Museo {}", "church": "Iglesia de {}",
              "building": "Casa {}", "monument": "Monumento a {}"}),
    Language("it", "Via {}", "Viale {}",
             {"tower": "Torre {}", "museum": "Museo {}", "church": "Chiesa di {}",
              "building": "Palazzo {}", "monument": "Monumento {}"}),
    Language("nl", "{}straat", "{}laan",
             {"tower": "{}toren", "museum": "{}museum", "church": "{}kerk",
              "building": "{}huis", "monument": "{}monument"}),
)


class NameMaker:
    """Draws unique stems from a seeded random generator (one per world)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def stem(self, syllables: tuple[int, int] = (2, 3)) -> str:
        """A new capitalised stem such as ``Valmira`` never returned before by this maker."""
        for attempt in range(1000):
            count = self._rng.randint(*syllables) + attempt // 200
            word = "".join(
                self._rng.choice(ONSETS) + self._rng.choice(VOWELS)
                + (self._rng.choice(CODAS) if i == count - 1 else "")
                for i in range(count)
            )
            word = word.capitalize()
            if word not in self._used and 4 <= len(word) <= 16 + attempt // 100:
                self._used.add(word)
                return word
        raise RuntimeError("name space exhausted")  # pragma: no cover - 25**6 stems

    def area(self) -> tuple[str, str]:
        """(local, English) name of an administrative area or settlement."""
        stem = self.stem()
        return stem, stem

    def language(self) -> Language:
        """A language for a new country."""
        return self._rng.choice(LANGUAGES)

    def street(self, language: Language) -> tuple[str, str]:
        """(local, English) street name, e.g. ``("Rue Dorel", "Dorel Street")``."""
        stem = self.stem((1, 2))
        if self._rng.random() < 0.3:
            return language.avenue.format(stem), ENGLISH.avenue.format(stem)
        return language.street.format(stem), ENGLISH.street.format(stem)

    def landmark(self, language: Language, landmark_type: str) -> tuple[str, str]:
        """(local, English) name of a landmark of the given type."""
        stem = self.stem((2, 3))
        return (language.landmark[landmark_type].format(stem),
                ENGLISH.landmark[landmark_type].format(stem))
