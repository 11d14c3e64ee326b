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

Answering with a trained model: ``gallery`` (GPS candidates kept in PostGIS, no
PyTorch), ``cache`` (their embeddings computed once per checkpoint and gallery),
``topk`` (batched top-k similarity), ``predict`` (predictions written beside the
classifier's, and single photos), ``report`` (which concepts drive the answers, by
region) and ``probe`` (linear probes on the frozen embeddings).
"""

__all__ = [
    "cache", "concepts", "data", "family", "gallery", "gps", "image", "loss", "model",
    "predict", "probe", "report", "topk", "vocabulary",
]
