"""Vocabularies that several stages share and that belong to none of them: the ADE20k
scene-parsing classes are what ``synth`` draws and what ``explain`` segments. The lowest
layer: it imports nothing of geotool."""

from geotool.vocab.ade20k import ADE20K_IDS, ADE20K_NAMES, UNLABELED

__all__ = ["ADE20K_IDS", "ADE20K_NAMES", "UNLABELED"]
