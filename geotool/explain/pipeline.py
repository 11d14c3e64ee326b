"""The concept-influence pass over a dataset split, written back to PostGIS.

:func:`compute_concepts` explains every image of a split with a model (batched IG +
SmoothGrad², :mod:`geotool.explain.attributions`), segments it
(:mod:`geotool.explain.segmenters`), computes ci for every concept and β
(:mod:`geotool.explain.influence`) and COPYs the rows into ``concept_influence``; each
image's outcome, explained class, predicted class and great-circle error go to
``concept_images``. Both are written per batch in one transaction, so a crash or SIGKILL
loses at most the batch in flight.

Resumable: the parameters of a run (model, the checkpoint file's SHA-256 and the
autocast mode, dataset, split, explanation options, k, β, minimum size, segmenter, input
geometry) are stored once in ``concept_runs`` under their SHA-256 (new weights under the
same checkpoint path are a new run); running again with the same parameters picks the
same row and skips every image that already has a ``concept_images`` row. Other
parameters make a new concept run.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
import torch
from sqlalchemy.engine import Connection, Engine

from geotool.db import datasets, sqlfiles
from geotool.db.copy import copy_rows
from geotool.db.runs import recorded_run
from geotool.errors import GeotoolError, InvalidValueError
from geotool.explain.attributions import ExplainParams, explain_batch
from geotool.explain.influence import concept_influence, scaled_k
from geotool.explain.preprocess import (
    InputGeometry,
    input_geometry,
    open_photo,
    prepare_mask,
    prepare_photo,
    to_input,
)
from geotool.explain.segmenters import ImageRef, MaskProblem, Segmenter, synthetic_masks
from geotool.learn.checkpoint import LoadedModel, load_model
from geotool.learn.geodesy import haversine_km
from geotool.learn.lookup import trained_model
from geotool.progress import NO_PROGRESS, Progress

#: Label value that pixels of a segmenter's ignored values (ADE20k's 0) are mapped to.
IGNORED = -1
NONFINITE_DETAIL = ("the explanation map holds NaN or infinity (under fp16 autocast the "
                    "gradients can overflow); no concept rows written")


@dataclass(frozen=True)
class InfluenceParams:
    """How concept influence is computed, for a dataset pass and for one photo (all but
    ``batch_size``/``device``/``limit`` are recorded and define the run; ``amp`` as the
    autocast it resolves to on the device)."""

    explain: ExplainParams = field(default_factory=ExplainParams)
    k: int | None = None  # None: 1000 at 224x224, scaled with the pixel count
    betas: tuple[int, ...] = (0,)
    min_size: float = 0.0  # skip concepts covering less than this share of the image
    batch_size: int = 16
    device: str = "cpu"
    amp: bool = True
    limit: int | None = None  # at most this many images (in id order)

    @classmethod
    def parse_betas(cls, text: str) -> tuple[int, ...]:
        """``--beta 0,1,2``: the distinct dilations, sorted."""
        try:
            values = tuple(sorted({int(v) for v in text.split(",") if v.strip()}))
        except ValueError:
            raise InvalidValueError(f"--beta {text!r}: give whole numbers, e.g. 0,1,2"
                                    ) from None
        if not values or min(values) < 0:
            raise InvalidValueError(f"--beta {text!r}: give non-negative whole numbers, "
                                    "e.g. 0,1,2")
        return values

    def validate(self) -> None:
        """Refuse options the pass cannot honour (naming the option) instead of running
        with something else: a ``k`` below 1 would silently become 1, a negative β would
        fail deep inside the computation."""
        if self.k is not None and self.k < 1:
            raise InvalidValueError(f"--k {self.k}: give at least 1 pixel (or leave it out "
                                    "for 1000 at 224 px, scaled with the pixel count)")
        if not self.betas or min(self.betas) < 0:
            raise InvalidValueError(f"--beta {list(self.betas)}: give non-negative whole "
                                    "numbers, e.g. 0,1,2")
        if not 0.0 <= self.min_size < 1.0:
            raise InvalidValueError(f"--min-size {self.min_size}: give a share of the image "
                                    "in [0, 1)")
        if self.batch_size < 1:
            raise InvalidValueError(f"--batch-size {self.batch_size}: must be at least 1")
        if self.limit is not None and self.limit < 1:
            raise InvalidValueError(f"--limit {self.limit}: must be at least 1")
        self.explain.validate()

    def check(self, n_levels: int) -> None:
        """:meth:`validate`, and the explained level against the model's ``n_levels``."""
        self.validate()
        level = self.explain.level
        if not 0 <= level < n_levels:
            raise InvalidValueError(f"level {level}: the model has {n_levels} levels "
                                    f"(0..{n_levels - 1}, 0 = finest)")

    def recorded(self) -> dict[str, Any]:
        return {"explain": self.explain.to_dict(), "k": self.k, "betas": list(self.betas),
                "min_size": self.min_size}


@dataclass(frozen=True)
class ConceptParams:
    """A concept-influence pass (``geotool concepts compute``): explain every image of
    ``dataset``/``split`` with model ``model``, as ``influence`` says."""

    model: str
    dataset: str
    split: str = "test"
    influence: InfluenceParams = field(default_factory=InfluenceParams)

    def validate(self) -> None:
        if not self.model:
            raise InvalidValueError("the model name is empty; give one with --model NAME")
        if not self.dataset:
            raise InvalidValueError("the dataset name is empty; give one with --dataset NAME")
        if self.split not in ("train", "val", "test"):
            raise InvalidValueError(f"--split {self.split!r}: use train, val or test")
        if self.influence.explain.target not in ("predicted", "true"):
            raise InvalidValueError(
                "a dataset pass explains the predicted class (default) or the true class; "
                "a given class is for `geotool concepts explain`")
        self.influence.validate()


@dataclass
class ConceptSummary:
    """What a pass did."""

    concept_run_id: int
    run_id: int
    images_total: int
    images_already_done: int
    images_explained: int = 0
    problems: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    seconds: float = 0.0

    @property
    def images_per_s(self) -> float:
        return self.images_explained / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "images_per_s": round(self.images_per_s, 3)}


def model_checkpoint(conn: Connection, model_name: str) -> tuple[int, str]:
    """``(models.id, checkpoint_path)`` of the model called ``model_name``
    (:func:`geotool.learn.lookup.trained_model`: the one lookup of a trained model)."""
    row = trained_model(conn, model_name)
    return row.id, str(row.checkpoint_path)


def pick_run(conn: Connection, model_name: str, run_id: int | None) -> tuple[int, dict[str, Any]]:
    """The concept run to report: ``run_id``, or the model's newest with ok images."""
    model_id, _ = model_checkpoint(conn, model_name)
    sql = ("SELECT r.id, r.params FROM concept_runs r WHERE r.model_id = :m "
           + ("AND r.id = :run " if run_id is not None else "")
           + "AND EXISTS (SELECT 1 FROM concept_images i WHERE i.run_id = r.id "
             "AND i.status = 'ok') ORDER BY r.id DESC LIMIT 1")
    row = conn.execute(sa.text(sql), {"m": model_id, "run": run_id}).one_or_none()
    if row is None:
        which = f"concept run {run_id}" if run_id is not None else "no concept run"
        raise GeotoolError(f"model {model_name!r}: {which} with explained images; run "
                           f"`geotool concepts compute --model {model_name} ...` first")
    return int(row.id), dict(row.params)


def ensure_concepts(conn: Connection, segmenter: Segmenter) -> dict[int, int]:
    """Make sure the segmenter's vocabulary is in ``concepts``; value -> concepts.id."""
    for value, name in sorted(segmenter.names.items()):
        conn.execute(sa.text(
            "INSERT INTO concepts (vocabulary, value, name) VALUES (:v, :value, :name) "
            "ON CONFLICT DO NOTHING"), {"v": segmenter.vocabulary, "value": value, "name": name})
    rows = conn.execute(sa.text("SELECT value, id, name FROM concepts WHERE vocabulary = :v"),
                        {"v": segmenter.vocabulary}).all()
    ids = {int(r.value): int(r.id) for r in rows}
    clash = [v for v, n in segmenter.names.items()
             if any(r.value == v and r.name != n for r in rows)]
    if clash:
        raise GeotoolError(f"vocabulary {segmenter.vocabulary!r} already names values "
                           f"{clash[:5]} differently in the database; give another "
                           "--vocabulary name")
    return ids


def _params_key(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def _concept_run(conn: Connection, model_id: int, dataset_id: int, split: str,
                 params: dict[str, Any]) -> int:
    key = _params_key(params)
    conn.execute(sa.text(
        "INSERT INTO concept_runs (model_id, dataset_id, split, params_key, params) "
        "VALUES (:m, :d, :s, :k, CAST(:p AS jsonb)) ON CONFLICT DO NOTHING"),
        {"m": model_id, "d": dataset_id, "s": split, "k": key, "p": json.dumps(params)})
    return int(conn.execute(sa.text(
        "SELECT id FROM concept_runs WHERE model_id = :m AND dataset_id = :d "
        "AND split = :s AND params_key = :k"),
        {"m": model_id, "d": dataset_id, "s": split, "k": key}).scalar_one())


@dataclass
class _Todo:
    ref: ImageRef
    lat: float
    lon: float


def _todo(conn: Connection, concept_run_id: int, dataset_id: int, split: str,
          limit: int | None) -> tuple[list[_Todo], int, int]:
    rows = conn.execute(sa.text(
        "SELECT i.id, i.external_id, i.path, i.mask_path, i.lat, i.lon, "
        "       (ci.image_id IS NOT NULL) AS done "
        "FROM images i LEFT JOIN concept_images ci "
        "  ON ci.image_id = i.id AND ci.run_id = :run "
        "WHERE i.dataset_id = :d AND i.split = :s ORDER BY i.id"
        + (" LIMIT :limit" if limit is not None else "")),
        {"run": concept_run_id, "d": dataset_id, "s": split, "limit": limit}).all()
    todo = [_Todo(ImageRef(int(r.id), r.external_id, r.path, r.mask_path), r.lat, r.lon)
            for r in rows if not r.done]
    return todo, len(rows), len(rows) - len(todo)


class ExplainSession:
    """A loaded model with everything needed to explain photos (shared by the pass and
    the one-photo command)."""

    def __init__(self, loaded: LoadedModel, options: InfluenceParams) -> None:
        options.check(len(loaded.classes.levels))
        self.loaded = loaded
        self.options = options
        from geotool.learn.predict import pick_device

        self.device = pick_device(options.device)  # names a bad --device, as predict does
        from geotool.learn.inference import amp_mode

        self.amp = amp_mode(self.device, options.amp)  # off | fp16 | bf16 (recorded)
        self.model = loaded.model.to(self.device).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.geometry: InputGeometry = input_geometry(loaded.image_size, loaded.config)
        self.level_classes = loaded.classes.levels[options.explain.level]
        self.k = scaled_k(self.geometry.crop, self.geometry.crop, options.k)

    def explain(self, photos: list[np.ndarray], masks: list[np.ndarray],
                targets: torch.Tensor | None = None, keep_attributions: bool = False
                ) -> tuple[Any, Any]:
        x = to_input(photos, self.geometry, self.device)
        expl = explain_batch(self.model, x, self.options.explain, self.geometry.norm,
                             targets=targets, keep_attributions=keep_attributions,
                             amp=self.options.amp)
        labels = torch.from_numpy(np.stack(masks)).to(self.device)
        # a map holding NaN/inf has no meaningful top k (NaN ranks first): such images get
        # no rows (the caller records them as 'nonfinite'); zeros stand in for the others'
        # computation only
        finite = nonfinite_free(expl.maps)
        maps = expl.maps if bool(finite.all()) else torch.where(
            finite.view(-1, 1, 1), expl.maps, torch.zeros_like(expl.maps))
        rows = concept_influence(maps, labels, k=self.k, betas=self.options.betas,
                                 min_size=self.options.min_size, ignore=(IGNORED,))
        if not bool(finite.all()):
            rows = rows.select(finite[rows.image])
        return expl, rows


def _check_true_classes(engine: Engine, model_name: str, loaded: LoadedModel) -> None:
    """Explaining the true class needs the model's partitioning set, unchanged since."""
    from geotool.learn.classes import check_same_classes, read_set_classes

    with engine.connect() as conn:
        set_name = conn.execute(sa.text(
            "SELECT s.name FROM models m JOIN partitioning_sets s ON s.id = m.set_id "
            "WHERE m.name = :n"), {"n": model_name}).scalar_one_or_none()
        if set_name is None:
            raise GeotoolError(f"model {model_name!r} has no partitioning set recorded, so "
                               "its images' true classes are unknown; explain the "
                               "predicted class instead")
        check_same_classes(model_name, loaded.classes, read_set_classes(conn, set_name))


def compute_concepts(engine: Engine, params: ConceptParams, *,
                     progress: Progress = NO_PROGRESS,
                     segmenter: Segmenter | None = None) -> ConceptSummary:
    """Compute and store concept influence for every image of ``params.dataset`` /
    ``params.split``.

    ``segmenter`` (an object, not a parameter: it may hold a network) defaults to the
    label-map files of the images' ``mask_path`` in ADE20k ids (what ``geotool synth
    photos`` writes). Returns a :class:`ConceptSummary`; the rows are in
    ``concept_images`` / ``concept_influence`` under its ``concept_run_id``.
    """
    params.validate()
    model_name, dataset, split, options = (params.model, params.dataset, params.split,
                                           params.influence)
    segmenter = segmenter or synthetic_masks()
    with engine.begin() as conn:
        model_id, checkpoint = model_checkpoint(conn, model_name)
        dataset_id = datasets.dataset_id(conn, dataset)
        concept_ids = ensure_concepts(conn, segmenter)
    loaded = load_model(Path(checkpoint))
    if options.explain.target == "true":
        _check_true_classes(engine, model_name, loaded)
    session = ExplainSession(loaded, options)
    # keyed by the weights' content and the autocast, not the checkpoint's path: a
    # `train --resume` that replaces best.pt makes a new concept run (issue 17)
    recorded = {"model": model_name, "checkpoint": checkpoint,
                "checkpoint_sha256": loaded.sha256, "amp": session.amp, "dataset": dataset,
                "split": split, **options.recorded(),
                "geometry": session.geometry.to_dict(), "segmenter": segmenter.describe()}
    with engine.begin() as conn:
        concept_run_id = _concept_run(conn, model_id, dataset_id, split, recorded)
        todo, total, done = _todo(conn, concept_run_id, dataset_id, split, options.limit)
    ignore = set(segmenter.ignore)
    with recorded_run(engine, "concepts", {**recorded, "concept_run_id": concept_run_id},
                      dataset_id) as run:
        summary = ConceptSummary(concept_run_id, run.id, total, done)
        run.summary = summary.to_dict()
        if done:
            progress.message(f"resuming concept run {concept_run_id}: {done} of {total} "
                             "images already done")
        progress.phase("explain", len(todo))
        start = time.perf_counter()
        for first in range(0, len(todo), options.batch_size):
            batch = todo[first:first + options.batch_size]
            written = _one_batch(engine, session, segmenter, concept_ids, ignore,
                                 concept_run_id, batch, summary, model_id)
            summary.rows += written
            summary.seconds = time.perf_counter() - start
            run.summary = summary.to_dict()
            progress.advance(len(batch))
            progress.update(images_per_s=f"{summary.images_per_s:.2f}", rows=summary.rows)
        summary.seconds = time.perf_counter() - start
        run.summary = summary.to_dict()
    return summary


def _one_batch(engine: Engine, session: ExplainSession, segmenter: Segmenter,
               concept_ids: dict[int, int], ignore: set[int], concept_run_id: int,
               batch: Sequence[_Todo], summary: ConceptSummary, model_id: int) -> int:
    geometry = session.geometry
    truth: dict[int, int] = {}
    if session.options.explain.target == "true":
        with engine.connect() as conn:
            rows = sqlfiles.run(conn, "explain/concepts_true_classes.sql", model_id=model_id,
                                level=session.options.explain.level,
                                image_ids=[t.ref.id for t in batch])
            assert rows is not None
            truth = {int(r.image_id): int(r.class_index) for r in rows}
    problems: list[tuple[_Todo, MaskProblem]] = []
    good: list[_Todo] = []
    photos, masks = [], []
    for item in batch:
        if session.options.explain.target == "true" and item.ref.id not in truth:
            problems.append((item, MaskProblem("unlabelled", "no true class at level "
                                                             f"{session.options.explain.level}")))
            continue
        if not item.ref.path:
            problems.append((item, MaskProblem("unreadable", "the image has no path")))
            continue
        try:
            photo = open_photo(item.ref.path)
        except GeotoolError as exc:
            problems.append((item, MaskProblem("unreadable", str(exc))))
            continue
        label_map = segmenter.label_map(item.ref, photo)
        if isinstance(label_map, MaskProblem):
            problems.append((item, label_map))
            continue
        mask = prepare_mask(label_map, geometry)
        if ignore:
            mask = np.where(np.isin(mask, list(ignore)), IGNORED, mask)
        unknown = set(np.unique(mask).tolist()) - set(concept_ids) - {IGNORED}
        if unknown:
            problems.append((item, MaskProblem(
                "unreadable", f"label values {sorted(unknown)[:5]} are not in vocabulary "
                              f"{segmenter.vocabulary!r}")))
            continue
        good.append(item)
        photos.append(prepare_photo(photo, geometry))
        masks.append(mask)
    image_rows: list[tuple[Any, ...]] = []
    ci_rows: list[tuple[Any, ...]] = []
    if good:
        targets = (torch.tensor([truth[g.ref.id] for g in good])
                   if session.options.explain.target == "true" else None)
        expl, rows = session.explain(photos, masks, targets=targets)
        level = session.level_classes
        pred = expl.predicted.cpu().numpy()
        plat, plon = level.lat[pred], level.lon[pred]
        err = haversine_km(np.array([g.lat for g in good]), np.array([g.lon for g in good]),
                           plat, plon)
        finite = nonfinite_free(expl.maps).cpu().numpy()
        for i, item in enumerate(good):
            if not finite[i]:
                problems.append((item, MaskProblem("nonfinite", NONFINITE_DETAIL)))
                continue
            image_rows.append((concept_run_id, item.ref.id, "ok", None,
                               int(expl.targets[i]), int(pred[i]), float(plat[i]),
                               float(plon[i]), float(err[i]), rows.k, geometry.crop,
                               geometry.crop))
        cols = [t.cpu().numpy() for t in (rows.image, rows.concept, rows.beta, rows.tki,
                                          rows.size, rows.ci, rows.mask_pixels,
                                          rows.hit_pixels)]
        for img, con, beta, tki, size, ci, mpx, hpx in zip(*cols, strict=True):
            if con < 0:
                continue
            ci_rows.append((concept_run_id, good[int(img)].ref.id, concept_ids[int(con)],
                            int(beta), float(tki), float(size), float(ci), int(mpx), int(hpx)))
    for item, problem in problems:
        image_rows.append((concept_run_id, item.ref.id, problem.status, problem.detail,
                           None, None, None, None, None, None, None, None))
        summary.problems[problem.status] = summary.problems.get(problem.status, 0) + 1
    with engine.begin() as conn:
        copy_rows(conn, "concept_influence",
                  ("run_id", "image_id", "concept_id", "beta", "tki", "size", "ci",
                   "mask_pixels", "hit_pixels"), ci_rows)
        copy_rows(conn, "concept_images",
                  ("run_id", "image_id", "status", "detail", "target_class",
                   "predicted_class", "pred_lat", "pred_lon", "error_km", "k", "height",
                   "width"), image_rows)
    summary.images_explained += len(good) - summary_nonfinite(problems)
    return len(ci_rows)


def summary_nonfinite(problems: Sequence[tuple[_Todo, MaskProblem]]) -> int:
    return sum(1 for _, p in problems if p.status == "nonfinite")


def nonfinite_free(maps: torch.Tensor) -> torch.Tensor:
    """``[B]`` bool: the explanation maps without NaN or infinity."""
    return torch.isfinite(maps.flatten(1)).all(dim=1)
