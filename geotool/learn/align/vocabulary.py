"""The alignment family's concept vocabularies: :mod:`geotool.vocab.concepts` (they live in
the lowest layer, which the training configuration's check may import without a cycle)."""

from geotool.vocab.concepts import (
    BUILTIN_DIR,
    Concept,
    Vocabulary,
    builtin_vocabularies,
    check_names,
    load_vocabulary,
    parse_vocabulary,
)

__all__ = ["BUILTIN_DIR", "Concept", "Vocabulary", "builtin_vocabularies", "check_names",
           "load_vocabulary", "parse_vocabulary"]
