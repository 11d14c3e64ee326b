"""Prediction: a trained model's answers for a dataset's photos, written into PostGIS, and
answers for single photos (``geotool predict``, ``geotool predict-image``).

:func:`predict` reads the photos of one dataset split in id order, predicts them in
batches (five crops or one, combined by mean or max; GPU with AMP when there is one) and
writes, per photo and level, the flat answer with its top-k and the hierarchical answer
with COPY into ``predictions``, one transaction per batch. The parameters live once in
``prediction_runs``; running again with the same parameters skips the photos already
answered (or recorded as failed), so a killed run resumes where it stopped. A photo whose
file is missing or cannot be decoded is written to ``prediction_failures`` with the
reason and the run goes on.

:func:`predict_image` answers a few photo files with a model already loaded
(:func:`geotool.learn.lookup.ready_model`), nothing written.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
import torch
from PIL import Image
from sqlalchemy.engine import Connection, Engine

from geotool.db import datasets
from geotool.db.copy import copy_rows
from geotool.db.runs import recorded_run
from geotool.errors import GeotoolError, InvalidValueError
from geotool.learn.classes import SetClasses
from geotool.learn.geodesy import haversine_km
from geotool.learn.inference import (
    BatchAnswer,
    CropTransform,
    PredictSummary,
    amp_mode,
    answer_from_probs,
    check_options,
    finite_rows,
    level_probabilities,
    load_crops,
    pick_device,
)
from geotool.learn.lookup import ReadyModel, ready_model
from geotool.learn.registry import get_model, model_family
from geotool.learn.view import normalisation, view_resize
from geotool.progress import NO_PROGRESS, Progress

PREDICTION_COLUMNS = ("prediction_run_id", "image_id", "mode", "level", "cell_id",
                      "class_index", "probability", "lat", "lon", "true_lat", "true_lon",
                      "topk_class_index", "topk_probability", "error_km")
PREDICTION_TYPES = ("int4", "int8", "text", "int2", "int8", "int4", "float8", "float8",
                    "float8", "float8", "float8", "int4[]", "float4[]", "float8")
SCHEMA = "geotool.predict-image/1"
NONFINITE_REASON = ("the model gave non-finite probabilities (NaN or infinity) for this "
                    "photo; no answer stored (check the checkpoint, or predict with --no-amp)")


@dataclass(frozen=True)
class PredictParams:
    """Predict the photos of ``dataset`` (one ``split``, or all with None) with model
    ``model``, and how. ``resize`` None: the checkpoint's view (its ``val_resize``, else
    ``default_resize(model image size)``; :func:`geotool.learn.view.view_resize`);
    ``device`` ``auto``: CUDA when available, else CPU; ``amp``: autocast on CUDA, bf16
    where the GPU has it, else fp16; ``retry_failed`` tries photos again that a previous
    run could not read. For an alignment model: ``gallery`` (None: its
    training dataset's ``<dataset>_train``) and ``concepts_top`` (concept scores stored
    per answer and side, best first; 0: all)."""

    model: str
    dataset: str
    split: str | None = "test"
    crops: int = 5
    combine: str = "mean"
    top_k: int = 10
    batch_size: int = 64
    resize: int | None = None
    device: str = "auto"
    amp: bool = True
    workers: int = 0
    retry_failed: bool = False
    gallery: str | None = None  # alignment models: the gallery to answer from
    concepts_top: int = 0  # alignment models: concept scores kept per side (0: all)

    def validate(self) -> None:
        if not self.model:
            raise InvalidValueError("the model name is empty; give one with --model NAME")
        if not self.dataset:
            raise InvalidValueError("the dataset name is empty; give one with --dataset NAME")
        if self.split not in (None, "train", "val", "test"):
            raise InvalidValueError(f"--split {self.split!r}: use train, val, test or all")
        self.check()

    def check(self) -> None:
        """The inference settings alone (what :func:`predict_image` uses too)."""
        check_options(self.crops, self.combine, self.top_k)
        if self.batch_size < 1:
            raise InvalidValueError(f"--batch-size {self.batch_size}: must be at least 1")
        if self.resize is not None and self.resize < 1:
            raise InvalidValueError(f"--resize {self.resize}: must be a positive pixel count")
        if self.workers < 0:
            raise InvalidValueError(f"--workers {self.workers}: must be 0 or more")






def crop_transform(ready: ReadyModel, options: PredictParams) -> CropTransform:
    size = ready.loaded.image_size
    mean, std = normalisation(ready.loaded.config)
    return CropTransform(size, options.resize or view_resize(size, ready.loaded.config),
                         options.crops, mean, std)


def _prediction_run(conn: Connection, ready: ReadyModel, options: PredictParams,
                    transform: CropTransform, amp: str) -> int:
    """The run of these parameters *and these weights* (the checkpoint's SHA-256) and AMP
    mode: a ``train --resume`` that replaces ``best.pt`` makes the next prediction a new
    run instead of mixing old and new answers (migration 0012)."""
    params = {"crops": options.crops, "combine": options.combine, "top_k": options.top_k,
              "resize": transform.resize, "image_size": transform.size,
              "normalize": {"mean": list(transform.mean), "std": list(transform.std)},
              "checkpoint": str(ready.loaded.path), "checkpoint_sha256": ready.loaded.sha256,
              "amp": amp, "fingerprint": ready.classes.fingerprint}
    import json

    key = {"m": ready.row.id, "h": ready.loaded.sha256, "amp": amp, "c": options.crops,
           "comb": options.combine, "k": options.top_k, "r": transform.resize}
    conn.execute(sa.text(
        "INSERT INTO prediction_runs (model_id, checkpoint_sha256, amp, crops, combine, top_k, "
        "resize, image_size, params) VALUES (:m, :h, :amp, :c, :comb, :k, :r, :s, "
        "CAST(:p AS jsonb)) ON CONFLICT ON CONSTRAINT uq_prediction_runs_key DO NOTHING"),
        {**key, "s": transform.size, "p": json.dumps(params)})
    return int(conn.execute(sa.text(
        "SELECT id FROM prediction_runs WHERE model_id = :m AND checkpoint_sha256 = :h "
        "AND amp = :amp AND crops = :c AND combine = :comb AND top_k = :k AND resize = :r "
        "AND gallery_id IS NULL"),
        key).scalar_one())


TODO_SQL = (
    "SELECT i.id, i.path, i.lat, i.lon FROM images i "
    "WHERE i.dataset_id = :ds AND (CAST(:split AS text) IS NULL OR i.split = :split) "
    "AND i.id > :after "
    "AND NOT EXISTS (SELECT 1 FROM predictions p WHERE p.prediction_run_id = :run "
    "                AND p.image_id = i.id AND p.mode = 'flat' AND p.level = 0) "
    "AND NOT EXISTS (SELECT 1 FROM prediction_failures f WHERE f.prediction_run_id = :run "
    "                AND f.image_id = i.id) "
    "ORDER BY i.id LIMIT :limit")


def _todo(engine: Engine, dataset_id: int, split: str | None, run_id: int,
          chunk: int = 10_000) -> Iterator[tuple[int, str | None, float, float]]:
    """Photos of the split not yet answered by the run, in id order, read in chunks."""
    after = -1
    while True:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(TODO_SQL), {"ds": dataset_id, "split": split,
                                                    "after": after, "run": run_id,
                                                    "limit": chunk}).all()
        if not rows:
            return
        for r in rows:
            yield int(r.id), r.path, float(r.lat), float(r.lon)
        after = int(rows[-1].id)




def prediction_rows(run_id: int, image_ids: Sequence[int], true_coords: Sequence[tuple[float,
                    float]], answer: BatchAnswer, classes: SetClasses) -> Iterator[tuple[Any, ...]]:
    """COPY rows (``PREDICTION_COLUMNS``) for a batch's answers."""
    levels = classes.levels
    true = np.asarray(true_coords, dtype=np.float64).reshape(-1, 2)
    # error_km of every flat and hierarchical answer, one vectorised call per level
    flat_err = [haversine_km(lv.lat[answer.flat_index[k]], lv.lon[answer.flat_index[k]],
                             true[:, 0], true[:, 1]) for k, lv in enumerate(levels)]
    hier_err = [haversine_km(lv.lat[answer.hier_index[k]], lv.lon[answer.hier_index[k]],
                             true[:, 0], true[:, 1]) for k, lv in enumerate(levels)]
    for b, image_id in enumerate(image_ids):
        true_lat, true_lon = true_coords[b]
        for k, lv in enumerate(levels):
            assert lv.cell_ids is not None
            c = int(answer.flat_index[k, b])
            yield (run_id, image_id, "flat", k, int(lv.cell_ids[c]), c,
                   float(answer.flat_prob[k, b]), float(lv.lat[c]), float(lv.lon[c]),
                   true_lat, true_lon, answer.topk_index[k][b].tolist(),
                   [round(float(p), 6) for p in answer.topk_prob[k][b]],
                   float(flat_err[k][b]))
            h = int(answer.hier_index[k, b])
            if h >= 0:
                yield (run_id, image_id, "hier", k, int(lv.cell_ids[h]), h,
                       float(answer.hier_prob[k, b]), float(lv.lat[h]), float(lv.lon[h]),
                       true_lat, true_lon, None, None, float(hier_err[k][b]))


def _batches(items: Iterator[tuple[int, str | None, float, float]], size: int
             ) -> Iterator[list[tuple[int, str | None, float, float]]]:
    batch: list[tuple[int, str | None, float, float]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _predict_align(engine: Engine, params: PredictParams, progress: Progress
                   ) -> PredictSummary:
    """An alignment model's prediction with the same parameters: crops are combined by
    averaging their embeddings, so ``combine`` must be ``mean``."""
    from geotool.learn.align.predict import AlignPredictParams, predict_align

    if params.combine != "mean":
        raise InvalidValueError(f"--combine {params.combine}: an alignment model averages "
                                "the crops' embeddings; use mean")
    return predict_align(engine, AlignPredictParams(
        params.model, params.dataset, params.split, params.gallery, params.crops,
        params.top_k, params.batch_size, params.resize, params.device, params.concepts_top,
        params.retry_failed), progress=progress)


def predict(engine: Engine, params: PredictParams, *,
            progress: Progress = NO_PROGRESS) -> PredictSummary:
    """Predict every photo of ``params.dataset`` (one ``params.split``, or all with None)
    with model ``params.model`` into ``predictions``; resumable (see the module
    docstring).

    An alignment model answers from ``params.gallery`` through
    :func:`geotool.learn.align.predict.predict_align` (its summary says more)."""
    params.validate()
    with engine.connect() as conn:
        family = model_family(get_model(conn, params.model))
    if family == "align":
        return _predict_align(engine, params, progress)
    options, model_name, dataset, split = params, params.model, params.dataset, params.split
    device = pick_device(options.device)
    ready = ready_model(engine, model_name, device=str(device))
    transform = crop_transform(ready, options)
    model = ready.loaded.model
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    amp = amp_mode(device, options.amp)
    with engine.begin() as conn:
        dataset_id = datasets.dataset_id(conn, dataset)
        run_id = _prediction_run(conn, ready, options, transform, amp)
        if options.retry_failed:
            conn.execute(sa.text("DELETE FROM prediction_failures WHERE prediction_run_id = :r"),
                         {"r": run_id})
        total, done, failed_before = conn.execute(sa.text(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM predictions p "
            "WHERE p.prediction_run_id = :run AND p.image_id = i.id AND p.mode = 'flat' "
            "AND p.level = 0) OR EXISTS (SELECT 1 FROM prediction_failures f "
            "WHERE f.prediction_run_id = :run AND f.image_id = i.id)), "
            "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM prediction_failures f "
            "WHERE f.prediction_run_id = :run AND f.image_id = i.id)) "
            "FROM images i WHERE i.dataset_id = :ds "
            "AND (CAST(:split AS text) IS NULL OR i.split = :split)"),
            {"run": run_id, "ds": dataset_id, "split": split}).one()
    if total == 0:
        raise GeotoolError(f"dataset {dataset!r} has no images"
                           + (f" in split {split!r}" if split else ""))
    summary = PredictSummary(model_name, run_id, already_done=int(done),
                             failed_before=int(failed_before))
    recorded = {"model": model_name, "dataset": dataset, "split": split,
                "prediction_run_id": run_id, **asdict(options),
                "resize": transform.resize, "device": str(device), "amp_mode": amp,
                "checkpoint_sha256": ready.loaded.sha256}
    with recorded_run(engine, "predict", recorded, dataset_id) as run:
        progress.phase("predict", int(total) - int(done))
        start = time.perf_counter()
        for batch in _batches(_todo(engine, dataset_id, split, run_id), options.batch_size):
            crops, ok, failed = load_crops([p for _, p, _, _ in batch], transform,
                                           options.workers)
            rows: list[tuple[Any, ...]] = []
            if crops is not None:
                probs = level_probabilities(model, crops.to(device), options.combine,
                                            amp=options.amp)
                # a photo with a NaN or infinite probability is a failure, not class 0
                finite = finite_rows(probs)
                for j in np.flatnonzero(~finite):
                    failed[ok[j]] = NONFINITE_REASON
                if not finite.all():
                    ok = [i for i, good in zip(ok, finite, strict=True) if good]
                    probs = [p[finite] for p in probs]
            if crops is not None and ok:
                answer = answer_from_probs(probs, ready.ancestors, options.top_k)
                rows = list(prediction_rows(
                    run_id, [batch[i][0] for i in ok],
                    [(batch[i][2], batch[i][3]) for i in ok], answer, ready.classes))
            with engine.begin() as conn:
                copy_rows(conn, "predictions", PREDICTION_COLUMNS, rows, PREDICTION_TYPES)
                if failed:
                    copy_rows(conn, "prediction_failures",
                              ("prediction_run_id", "image_id", "reason"),
                              [(run_id, batch[i][0], reason) for i, reason in failed.items()])
            summary.predicted += len(ok)
            summary.failed += len(failed)
            summary.seconds = time.perf_counter() - start
            progress.advance(len(batch))
            progress.update(images_per_s=round(summary.images_per_s, 1),
                            failed=summary.failed)
            run.summary.update(predicted=summary.predicted, failed=summary.failed,
                               already_done=summary.already_done)
        run.summary.update(seconds=round(summary.seconds, 3),
                           images_per_s=round(summary.images_per_s, 2))
    return summary


# --------------------------------------------------------------------------- one photo
@dataclass
class CellAnswer:
    """One class of one level with its probability."""

    level: int
    partitioning: str
    class_index: int
    key: str
    label: str
    probability: float
    lat: float
    lon: float

    @property
    def name(self) -> str:
        """The class's own name: the first entry of its label path."""
        return self.label.split(",")[0].strip() or self.key


@dataclass
class ImageAnswer:
    """A model's answer for one photo file (``error`` set when it could not be read)."""

    path: str
    error: str | None = None
    hierarchical: list[CellAnswer] = field(default_factory=list)  # fine → coarse
    flat: list[CellAnswer] = field(default_factory=list)  # argmax per level
    top_k: list[list[CellAnswer]] = field(default_factory=list)  # per level

    @property
    def lat(self) -> float | None:
        return self.hierarchical[0].lat if self.hierarchical else None

    @property
    def lon(self) -> float | None:
        return self.hierarchical[0].lon if self.hierarchical else None

    def summary_line(self) -> str:
        """"Spain 92 % › Catalonia 71 % › Barcelona 40 %": coarse → fine."""
        parts: list[str] = []
        seen: set[str] = set()
        for c in reversed(self.hierarchical):  # a place that is a class at several levels
            if c.key not in seen:               # is named once, at its coarsest level
                seen.add(c.key)
                parts.append(f"{c.name} {c.probability:.0%}".replace("%", " %"))
        return " › ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of ``geotool predict-image --json`` (``schema``)."""
        return {"schema": SCHEMA, "path": self.path, "error": self.error,
                "lat": self.lat, "lon": self.lon,
                "label": self.hierarchical[0].label if self.hierarchical else None,
                "hierarchical": [asdict(c) for c in self.hierarchical],
                "flat": [asdict(c) for c in self.flat],
                "top_k": [[asdict(c) for c in level] for level in self.top_k]}


def photo_file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be a photo, from the file system alone (checked before a
    model is loaded); None when it may be one (decoding can still fail)."""
    p = Path(path)
    if not p.exists():
        return f"{p}: file not found"
    if p.is_dir():
        return f"{p}: is a directory, not a photo"
    if not p.is_file():
        return f"{p}: not a regular file"
    try:
        if p.stat().st_size == 0:
            return f"{p}: the file is empty"
        with open(p, "rb"):
            pass
    except OSError as exc:
        return f"{p}: cannot open ({exc.strerror or exc})"
    return None


def photo_size(path: str | Path) -> tuple[int, int] | None:
    """(width, height) from the photo's header without decoding it; None if unreadable."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                return img.size
    except (OSError, Image.DecompressionBombError, ValueError, SyntaxError):
        return None


def _cell(classes: SetClasses, level: int, index: int, prob: float) -> CellAnswer:
    lv = classes.levels[level]
    return CellAnswer(level, lv.partitioning, index, lv.keys[index], lv.labels[index],
                      float(prob), float(lv.lat[index]), float(lv.lon[index]))


def predict_image(ready: ReadyModel, paths: Sequence[str | Path], crops: int = 5,
                  combine: str = "mean", top_k: int = 5, resize: int | None = None,
                  device: str = "cpu") -> list[ImageAnswer]:
    """Answer photo files with a model from :func:`geotool.learn.lookup.ready_model`;
    an unreadable file gets an answer with ``error`` set, not an exception."""
    options = PredictParams(model=ready.row.name, dataset="", split=None, crops=crops,
                            combine=combine, top_k=top_k, resize=resize, device=device)
    options.check()
    transform = crop_transform(ready, options)
    tensor, ok, failed = load_crops([str(p) for p in paths], transform)
    answers = [ImageAnswer(str(p)) for p in paths]
    for i, reason in failed.items():
        answers[i].error = reason
    if tensor is None:
        return answers
    dev = pick_device(device)
    ready.loaded.model.to(dev)
    probs = level_probabilities(ready.loaded.model, tensor.to(dev), combine)
    finite = finite_rows(probs)
    for j in np.flatnonzero(~finite):
        answers[ok[j]].error = NONFINITE_REASON
    ok = [i for i, good in zip(ok, finite, strict=True) if good]
    if not ok:
        return answers
    probs = [p[finite] for p in probs]
    answer = answer_from_probs(probs, ready.ancestors, top_k)
    classes = ready.loaded.classes
    for b, i in enumerate(ok):
        out = answers[i]
        for k in range(len(probs)):
            h = int(answer.hier_index[k, b])
            if h >= 0:
                out.hierarchical.append(_cell(classes, k, h, answer.hier_prob[k, b]))
            out.flat.append(_cell(classes, k, int(answer.flat_index[k, b]),
                                  answer.flat_prob[k, b]))
            out.top_k.append([_cell(classes, k, int(c), p) for c, p in
                              zip(answer.topk_index[k][b], answer.topk_prob[k][b],
                                  strict=True)])
    return answers

