"""The second model family: concept-aware image–GPS alignment (GeoCLIP + a concept bank).

An image encoder and a GPS encoder are aligned by contrastive learning (GeoCLIP); both
embeddings are also projected onto a shared bank of named geographic concepts and a
concept-level divergence pulls the two distributions together (Hou et al. 2025). The
method and every decision are in docs/method.md ("The alignment family").

Modules: ``gps`` (the GeoCLIP location encoder), ``image`` (backbone + projection),
``vocabulary`` (re-exports :mod:`geotool.vocab.concepts`, the TOML concept lists),
``concepts`` (the bank and the losses), ``loss`` (InfoNCE with a queue), ``model``
(``AlignModel``, building and loading), ``family`` (what the shared training loop needs
from this family), ``data`` (its training examples).
"""

__all__ = ["concepts", "data", "family", "gps", "image", "loss", "model", "vocabulary"]
