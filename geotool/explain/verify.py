"""Does concept influence measure what the model uses? Occlusion against ci.

ci (:mod:`geotool.explain.influence`) says where a model's *explanation* falls; it does not
say that the model *needs* those pixels. :func:`verify_concepts` asks the model directly:
for every photo of a concept run and every concept in it (the concepts with a β = 0 ci
row), it occludes the concept's mask and measures the drop in the probability of the
class ci explained (``concept_images.target_class``, at the run's explained level):

    drop(c) = p(class | photo) − p(class | photo with S_c occluded)

and, as a control, the drop when a region of the same size and shape is occluded
elsewhere: the mask shifted circularly by a random offset (dy, dx), seeded per (seed,
image, concept), so it has exactly |S_c| pixels. A concept matters beyond its area when
its drop exceeds the control's.

Occlusion (``fill``):

* ``mean`` (default): the occluded pixels take the normalisation's mean colour (ImageNet's
  unless the checkpoint says otherwise), i.e. 0 in the model's normalised input — a flat
  grey, no texture or colour cue left;
* ``blur``: the occluded pixels take a Gaussian blur of the photo (PIL, radius
  ``blur_radius`` pixels, default crop / 16): the colour stays, the texture goes.

The photo is the same validation view ci explained (:mod:`geotool.explain.preprocess`),
the mask the same undilated label map; the forward pass is float32 (no AMP). Rows go to
``concept_occlusion`` (migration 0016) under a ``concept_verify_runs`` row keyed by the
parameters, so a rerun resumes; the per-concept comparison (mean drop beside median ci,
Spearman between them) is ``sql/explain/concepts_verify_report.sql`` over the views of
``sql/explain/concepts_verify_views.sql`` (a schema file: ``db upgrade`` applies it).
docs/concepts.md says how to read the figure.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import sqlalchemy as sa
import torch
from numpy.typing import NDArray
from PIL import Image, ImageFilter
from sqlalchemy.engine import Connection, Engine

from geotool.db import sqlfiles
from geotool.db.copy import copy_rows
from geotool.db.runs import recorded_run
from geotool.errors import GeotoolError, InvalidValueError
from geotool.explain.preprocess import (
    InputGeometry,
    input_geometry,
    open_photo,
    prepare_mask,
    prepare_photo,
)
from geotool.explain.segmenters import ImageRef, MaskProblem, Segmenter, synthetic_masks
from geotool.learn.checkpoint import load_model
from geotool.progress import NO_PROGRESS, Progress

Fill = Literal["mean", "blur"]
FILLS = ("mean", "blur")


@dataclass(frozen=True)
class VerifyParams:
    """Parameters of an occlusion check of one concept run (``fill``, ``blur_radius`` and
    ``seed`` define the verify run; the rest only how it is computed or reported)."""

    model: str
    run: int | None = None  # concept run id; default: the model's newest with ok images
    fill: Fill = "mean"
    blur_radius: float | None = None  # pixels; None: crop / 16
    seed: int = 0
    batch_size: int = 64  # occluded inputs per forward pass
    limit: int | None = None  # at most this many photos (in id order)
    device: str = "cpu"
    min_images: int = 10  # the report's cut: concepts seen in at least N photos

    def validate(self) -> None:
        if not self.model:
            raise InvalidValueError("--model: give the name of a model (geotool models)")
        if self.fill not in FILLS:
            raise InvalidValueError(f"--fill {self.fill!r}: use mean or blur")
        if self.blur_radius is not None and not self.blur_radius > 0:
            raise InvalidValueError(f"--blur-radius {self.blur_radius}: give a positive "
                                    "number of pixels")
        if self.batch_size < 1:
            raise InvalidValueError(f"--batch-size {self.batch_size}: must be at least 1")
        if self.limit is not None and self.limit < 1:
            raise InvalidValueError(f"--limit {self.limit}: must be at least 1")
        if self.min_images < 1:
            raise InvalidValueError(f"--min-images {self.min_images}: must be at least 1")

    def recorded(self, crop: int) -> dict[str, Any]:
        radius = self.blur_radius if self.blur_radius is not None else crop / 16
        return {"fill": self.fill, "blur_radius": radius if self.fill == "blur" else None,
                "seed": self.seed}


@dataclass
class VerifyConcept:
    """One concept of the comparison (a row of ``concepts_verify_report.sql``)."""

    concept: str
    n_images: int
    median_ci: float
    mean_drop: float
    mean_control_drop: float
    share_above_control: float  # photos where the concept's drop exceeds the control's


@dataclass
class VerifySummary:
    """What a check did and what it found."""

    verify_run_id: int
    concept_run_id: int
    run_id: int
    fill: str
    images_total: int
    images_already_done: int
    images_checked: int = 0
    rows: int = 0
    problems: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    min_images: int = 10
    concepts: list[VerifyConcept] = field(default_factory=list)  # by mean drop, highest first
    spearman: float | None = None  # median ci vs mean drop, over ``concepts``
    spearman_vs_control: float | None = None  # median ci vs mean (drop − control drop)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fill_pixels(photo: NDArray[np.uint8], geometry: InputGeometry, fill: Fill,
                radius: float) -> NDArray[np.float32]:
    """The photo's replacement pixels in [0, 1], ``[H, W, 3]``: the normalisation's mean
    colour everywhere (``mean``) or the Gaussian-blurred photo (``blur``)."""
    if fill == "mean":
        return np.broadcast_to(np.asarray(geometry.norm.mean, dtype=np.float32),
                               photo.shape).copy()
    blurred = Image.fromarray(photo).filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(blurred, dtype=np.float32) / 255.0


def control_offset(seed: int, image_id: int, concept_id: int, height: int,
                   width: int) -> tuple[int, int]:
    """The control region's circular shift, seeded per (seed, image, concept)."""
    rng = np.random.default_rng([seed, image_id, concept_id])
    return int(rng.integers(0, height)), int(rng.integers(0, width))


def occluded(photo: NDArray[np.uint8], replacement: NDArray[np.float32],
             mask: NDArray[np.bool_]) -> NDArray[np.float32]:
    """``photo`` in [0, 1] with the pixels of ``mask`` taken from ``replacement``."""
    out = photo.astype(np.float32) / 255.0
    out[mask] = replacement[mask]
    return out


def _pick_run(conn: Connection, params: VerifyParams) -> tuple[int, dict[str, Any]]:
    from geotool.explain.pipeline import pick_run

    return pick_run(conn, params.model, params.run)


def _verify_run(conn: Connection, concept_run_id: int, recorded: dict[str, Any]) -> int:
    key = hashlib.sha256(json.dumps(recorded, sort_keys=True).encode()).hexdigest()
    conn.execute(sa.text(
        "INSERT INTO concept_verify_runs (concept_run_id, params_key, params) "
        "VALUES (:r, :k, CAST(:p AS jsonb)) ON CONFLICT DO NOTHING"),
        {"r": concept_run_id, "k": key, "p": json.dumps(recorded)})
    return int(conn.execute(sa.text(
        "SELECT id FROM concept_verify_runs WHERE concept_run_id = :r AND params_key = :k"),
        {"r": concept_run_id, "k": key}).scalar_one())


@dataclass
class _Photo:
    ref: ImageRef
    target: int
    concepts: list[tuple[int, int]]  # (concepts.id, label value)


def _todo(conn: Connection, concept_run_id: int, verify_run_id: int, limit: int | None,
          segmenter: Segmenter) -> tuple[list[_Photo], int, int]:
    """The run's ok photos with their β = 0 concepts; photos with occlusion rows are done."""
    rows = conn.execute(sa.text(
        "SELECT i.id, i.external_id, i.path, i.mask_path, ci.target_class, "
        "       EXISTS (SELECT 1 FROM concept_occlusion o WHERE o.verify_run_id = :v "
        "               AND o.image_id = i.id) AS done, "
        "       array_agg(c.id ORDER BY c.value) AS concept_ids, "
        "       array_agg(c.value ORDER BY c.value) AS concept_values "
        "FROM concept_images ci JOIN images i ON i.id = ci.image_id "
        "JOIN concept_influence f ON f.run_id = ci.run_id AND f.image_id = ci.image_id "
        "     AND f.beta = 0 "
        "JOIN concepts c ON c.id = f.concept_id AND c.vocabulary = :vocabulary "
        "WHERE ci.run_id = :r AND ci.status = 'ok' "
        "GROUP BY i.id, i.external_id, i.path, i.mask_path, ci.target_class "
        "ORDER BY i.id" + (" LIMIT :limit" if limit is not None else "")),
        {"r": concept_run_id, "v": verify_run_id, "limit": limit,
         "vocabulary": segmenter.vocabulary}).all()
    todo = [_Photo(ImageRef(int(r.id), r.external_id, r.path, r.mask_path),
                   int(r.target_class),
                   list(zip((int(v) for v in r.concept_ids),
                            (int(v) for v in r.concept_values), strict=True)))
            for r in rows if not r.done]
    return todo, len(rows), len(rows) - len(todo)


def verify_concepts(engine: Engine, params: VerifyParams, *,
                    progress: Progress = NO_PROGRESS,
                    segmenter: Segmenter | None = None) -> VerifySummary:
    """Occlude every concept of a concept run's photos; store and compare (module doc).

    ``segmenter`` must be the one the concept run used (default: the images' label-map
    files, what ``concepts compute`` defaults to); a different one is refused.
    """
    params.validate()
    segmenter = segmenter or synthetic_masks()
    with engine.begin() as conn:
        concept_run_id, run_params = _pick_run(conn, params)
    if 0 not in [int(b) for b in run_params.get("betas", [0])]:
        raise GeotoolError(f"concept run {concept_run_id} has no β = 0 rows (β "
                           f"{run_params.get('betas')}); verify compares with undilated ci: "
                           "run `geotool concepts compute` with --beta 0 (e.g. --beta 0,2)")
    if run_params.get("segmenter") not in (None, segmenter.describe()):
        raise GeotoolError(f"concept run {concept_run_id} was computed with segmenter "
                           f"{run_params.get('segmenter')}; give the same --segmenter "
                           "options to verify")
    loaded = load_model(Path(str(run_params["checkpoint"])))
    geometry = input_geometry(loaded.image_size, loaded.config)
    if geometry.to_dict() != run_params.get("geometry", geometry.to_dict()):
        raise GeotoolError(f"model {params.model!r}: the checkpoint's input geometry "
                           f"{geometry.to_dict()} is not the one concept run "
                           f"{concept_run_id} explained ({run_params.get('geometry')}); "
                           "compute concepts again for this checkpoint")
    level = int(run_params.get("explain", {}).get("level", 0))
    from geotool.learn.predict import pick_device

    device = pick_device(params.device)
    model = loaded.model.to(device).eval()
    recorded = params.recorded(geometry.crop)
    with engine.begin() as conn:
        verify_run_id = _verify_run(conn, concept_run_id, recorded)
        todo, total, done = _todo(conn, concept_run_id, verify_run_id, params.limit,
                                  segmenter)
    ignore = set(segmenter.ignore)
    run_record = {"model": params.model, "concept_run_id": concept_run_id,
                  "verify_run_id": verify_run_id, **recorded}
    with engine.connect() as conn:
        dataset_id = conn.execute(sa.text("SELECT dataset_id FROM concept_runs WHERE id = :r"),
                                  {"r": concept_run_id}).scalar_one()
    with recorded_run(engine, "concepts-verify", run_record, dataset_id) as run:
        summary = VerifySummary(verify_run_id, concept_run_id, run.id, params.fill, total,
                                done, min_images=params.min_images)
        run.summary = summary.to_dict()
        if done:
            progress.message(f"resuming verify run {verify_run_id}: {done} of {total} "
                             "photos already done")
        progress.phase("occlude", len(todo))
        start = time.perf_counter()
        chunk = max(1, params.batch_size // 8)
        for first in range(0, len(todo), chunk):
            batch = todo[first:first + chunk]
            rows = _occlude_batch(model, device, geometry, level, segmenter, ignore,
                                  batch, recorded, verify_run_id, params.batch_size,
                                  summary)
            with engine.begin() as conn:
                copy_rows(conn, "concept_occlusion",
                          ("verify_run_id", "image_id", "concept_id", "pixels",
                           "target_class", "p_base", "p_occluded", "p_control",
                           "control_dy", "control_dx"), rows)
            summary.rows += len(rows)
            summary.seconds = time.perf_counter() - start
            run.summary = summary.to_dict()
            progress.advance(len(batch))
        summary.seconds = time.perf_counter() - start
        with engine.connect() as conn:
            verify_report(conn, summary)
        run.summary = summary.to_dict()
    return summary


def latest_verification(conn: Connection, concept_run_id: int,
                        min_images: int) -> VerifySummary | None:
    """The newest verify run of a concept run with its comparison (for
    ``geotool concepts report``); None when the run was never verified."""
    row = conn.execute(sa.text(
        "SELECT v.id, v.params, count(DISTINCT o.image_id) AS n "
        "FROM concept_verify_runs v LEFT JOIN concept_occlusion o ON o.verify_run_id = v.id "
        "WHERE v.concept_run_id = :r GROUP BY v.id ORDER BY v.id DESC LIMIT 1"),
        {"r": concept_run_id}).one_or_none()
    if row is None:
        return None
    summary = VerifySummary(int(row.id), concept_run_id, 0, str(row.params.get("fill")),
                            int(row.n), int(row.n), min_images=min_images)
    return verify_report(conn, summary)


def verify_report(conn: Connection, summary: VerifySummary) -> VerifySummary:
    """Fill ``summary.concepts`` and the Spearman figures from the database."""
    rows = sqlfiles.run(conn, "explain/concepts_verify_report.sql",
                        verify_run_id=summary.verify_run_id, min_images=summary.min_images)
    assert rows is not None
    result = rows.all()
    summary.concepts = [VerifyConcept(r.concept, int(r.n_images), float(r.median_ci),
                                      float(r.mean_drop), float(r.mean_control_drop),
                                      float(r.share_above_control)) for r in result]

    def figure(value: Any) -> float | None:
        return None if value is None or math.isnan(float(value)) else float(value)

    summary.spearman = figure(result[0].spearman) if result else None
    summary.spearman_vs_control = figure(result[0].spearman_vs_control) if result else None
    return summary


def _probabilities(model: torch.nn.Module, inputs: list[NDArray[np.float32]],
                   geometry: InputGeometry, level: int, targets: list[int],
                   device: torch.device, batch_size: int) -> NDArray[np.float64]:
    """p(target) for each input in [0, 1] ``[H, W, 3]``, float32 forward passes."""
    out = np.empty(len(inputs), dtype=np.float64)
    for first in range(0, len(inputs), batch_size):
        part = np.stack(inputs[first:first + batch_size])
        x = torch.from_numpy(part).to(device).permute(0, 3, 1, 2).contiguous()
        x = geometry.norm.apply(x)
        with torch.no_grad():
            logits = model(x)
        head = logits[level] if isinstance(logits, list | tuple) else logits
        p = torch.softmax(head.float(), dim=1).cpu().numpy()
        idx = np.asarray(targets[first:first + batch_size])
        out[first:first + len(part)] = p[np.arange(len(part)), idx]
    return out


def _occlude_batch(model: torch.nn.Module, device: torch.device, geometry: InputGeometry,
                   level: int, segmenter: Segmenter, ignore: set[int], batch: list[_Photo],
                   recorded: dict[str, Any], verify_run_id: int, batch_size: int,
                   summary: VerifySummary) -> list[tuple[Any, ...]]:
    inputs: list[NDArray[np.float32]] = []
    targets: list[int] = []
    plan: list[tuple[_Photo, int, int, int, tuple[int, int], int]] = []
    radius = float(recorded.get("blur_radius") or 1.0)
    for item in batch:
        problem: MaskProblem | None = None
        try:
            image = open_photo(item.ref.path or "")
        except GeotoolError as exc:
            problem = MaskProblem("unreadable", str(exc))
        else:
            label_map = segmenter.label_map(item.ref, image)
            if isinstance(label_map, MaskProblem):
                problem = label_map
        if problem is not None:
            summary.problems[problem.status] = summary.problems.get(problem.status, 0) + 1
            continue
        assert not isinstance(label_map, MaskProblem)
        photo = prepare_photo(image, geometry)
        mask = prepare_mask(label_map, geometry)
        replacement = fill_pixels(photo, geometry, recorded["fill"], radius)
        base = len(inputs)
        inputs.append(photo.astype(np.float32) / 255.0)
        targets.append(item.target)
        h, w = mask.shape
        for concept_id, value in item.concepts:
            if value in ignore:
                continue
            region = mask == value
            dy, dx = control_offset(int(recorded["seed"]), item.ref.id, concept_id, h, w)
            control = np.roll(region, (dy, dx), axis=(0, 1))
            plan.append((item, concept_id, int(region.sum()), base, (dy, dx), len(inputs)))
            inputs.append(occluded(photo, replacement, region))
            inputs.append(occluded(photo, replacement, control))
            targets.extend([item.target, item.target])
        summary.images_checked += 1
    if not inputs:
        return []
    p = _probabilities(model, inputs, geometry, level, targets, device, batch_size)
    return [(verify_run_id, item.ref.id, concept_id, pixels, item.target, float(p[base]),
             float(p[at]), float(p[at + 1]), dy, dx)
            for item, concept_id, pixels, base, (dy, dx), at in plan]


def format_verify(summary: VerifySummary) -> str:
    """Plain-text table (what ``geotool concepts verify`` prints)."""
    problems = ", ".join(f"{n} {s}" for s, n in sorted(summary.problems.items())) or "none"
    lines = [f"verify run {summary.verify_run_id} of concept run {summary.concept_run_id} "
             f"(fill {summary.fill}): {summary.images_checked} photos checked "
             f"({summary.images_already_done} already done of {summary.images_total}), "
             f"{summary.rows} rows; problems: {problems}",
             f"concepts seen in >= {summary.min_images} photos: {len(summary.concepts)}"]
    if summary.concepts:
        lines.append(f"  {'concept':<24} {'n':>5} {'median ci':>10} {'mean drop':>10} "
                     f"{'control':>10} {'> control':>10}")
        for c in summary.concepts:
            lines.append(f"  {c.concept:<24} {c.n_images:5d} {c.median_ci:10.3f} "
                         f"{c.mean_drop:10.4f} {c.mean_control_drop:10.4f} "
                         f"{c.share_above_control:10.2f}")

    def figure(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    lines.append(f"Spearman(median ci, mean drop) = {figure(summary.spearman)}; "
                 f"Spearman(median ci, mean drop above control) = "
                 f"{figure(summary.spearman_vs_control)} over {len(summary.concepts)} "
                 "concepts")
    return "\n".join(lines)
