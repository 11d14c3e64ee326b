"""The alignment family's examples: a dataset's photos, coordinates and concept truth.

``read_align_rows`` reads ``sql/learn/align_images.sql`` once per run into
:class:`~geotool.learn.labels.LabelArrays` (no class columns: an alignment model learns
coordinates), so the shared sampler, transforms and bad-image handling apply unchanged.

Concept truth (optional supervision, ``concept_supervision > 0``), one row per photo over
the vocabulary's concepts:

- a ``mask`` concept: the share of the photo's pixels labelled with that ADE20k class in
  its label map (``images.mask_path``; the synthetic planet writes one per photo);
- a ``climate`` concept: 1 when the photo's place has that climate band (``photos.json``
  of the synthetic photo set: ``concept_truth``, or found beside the images), else 0.

``concept_target = "lift"`` replaces a mask concept's share by its share relative to the
concept's mean share (see :func:`concept_targets`). Rows without any truth (no mask,
unknown climate) have zero mass and are left out of the
supervision term.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy.engine import Connection

from geotool.db import sqlfiles
from geotool.errors import InvalidValueError, MissingInputError
from geotool.learn.labels import ImageSource, LabelArrays
from geotool.vocab.concepts import Vocabulary


@dataclass
class AlignRows:
    """The examples of one split, plus what concept truth needs."""

    arrays: LabelArrays
    external_ids: list[str]
    mask_paths: list[str | None]


def read_align_rows(conn: Connection, dataset: str, split: str) -> AlignRows:
    rows = sqlfiles.run(conn, "learn/align_images.sql", dataset=dataset, split=split)
    assert rows is not None
    ids, lat, lon, ext, masks = [], [], [], [], []
    sources: list[ImageSource] = []
    for row in rows:
        ids.append(int(row.image_id))
        lat.append(float(row.lat))
        lon.append(float(row.lon))
        ext.append(str(row.external_id))
        masks.append(row.mask_path)
        sources.append(ImageSource(row.path, row.shard_path, int(row.byte_offset or 0),
                                   int(row.length or 0)))
    n = len(ids)
    arrays = LabelArrays(np.asarray(ids, dtype=np.int64), np.asarray(lat, dtype=np.float64),
                         np.asarray(lon, dtype=np.float64), np.zeros((n, 0), dtype=np.int64),
                         sources)
    return AlignRows(arrays, ext, masks)


def _find_photos_json(rows: AlignRows, given: str) -> Path | None:
    if given:
        path = Path(given)
        if not path.is_file():
            raise MissingInputError(f"concept_truth file {path} does not exist")
        return path
    for source in rows.arrays.sources[:1]:
        if source.path:
            for parent in Path(source.path).parents[:4]:
                if (parent / "photos.json").is_file():
                    return parent / "photos.json"
    return None


def concept_targets(rows: AlignRows, vocab: Vocabulary, truth_file: str = "",
                    mode: str = "share") -> np.ndarray:
    """Per-photo concept truth [n, K] (float32; unnormalised, see the module docstring).

    ``mode = "lift"``: a mask concept's pixel share divided by its mean share over these
    photos (how much more of it the photo shows than usual), the mask columns then
    rescaled to the same total as their shares — so a small, rare concept that is there
    (a tower) weighs more than a large one every photo shows (sidewalk, sky)."""
    from geotool.vocab.ade20k import ADE20K_IDS

    n, k = len(rows.arrays), len(vocab)
    out = np.zeros((n, k), dtype=np.float32)
    mask_cols = []
    for j, c in enumerate(vocab.concepts):
        if c.mask:
            if c.mask not in ADE20K_IDS:
                raise InvalidValueError(f"vocabulary {vocab.name!r}: concept {c.name!r} names "
                                        f"mask class {c.mask!r}, which is not an ADE20k class")
            mask_cols.append((j, ADE20K_IDS[c.mask]))
    if mask_cols:
        label_ids = np.array([i for _, i in mask_cols])
        cols = np.array([j for j, _ in mask_cols])
        for r, mask in enumerate(rows.mask_paths):
            if not mask or not Path(mask).is_file():
                continue
            with Image.open(mask) as im:
                labels = np.asarray(im)
            counts = np.bincount(labels.ravel(), minlength=256)
            out[r, cols] = counts[label_ids] / labels.size
        if mode == "lift":
            share = out[:, cols]
            mean = share.mean(0)
            lifted = np.where(mean > 0, share / np.where(mean > 0, mean, 1.0), 0.0)
            total, lifted_total = share.sum(1, keepdims=True), lifted.sum(1, keepdims=True)
            out[:, cols] = np.where(lifted_total > 0,
                                    lifted * total / np.where(lifted_total > 0, lifted_total,
                                                              1.0), 0.0)
    climate_cols = {c.climate: j for j, c in enumerate(vocab.concepts) if c.climate}
    if climate_cols:
        path = _find_photos_json(rows, truth_file)
        if path is not None:
            doc = json.loads(path.read_text(encoding="utf-8"))
            climate_of = {str(p["id"]): p.get("climate") for p in doc.get("photos", [])}
            for r, ext in enumerate(rows.external_ids):
                col = climate_cols.get(str(climate_of.get(ext)))
                if col is not None:
                    out[r, col] = 1.0
    return out
