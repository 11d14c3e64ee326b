"""Which concepts drive an alignment model's answers, by region: a table and a chart.

The alignment counterpart of ``geotool concepts report``. It reads the concept scores
stored with a prediction run (``prediction_concepts``: per photo, side ``image`` or
``location``) through ``sql/learn/align_report_photos.sql`` and aggregates per region — the
photo's country (address vector) or its true cell in a named partitioning:

- per region: photos, the share answered within ``radius_km``, and the concepts with the
  highest *lift* (mean score in the region ÷ mean score over all photos) and their mean
  scores: what is distinctive about the region in the model's concept space;
- overall: the mean score of every concept, and how often each is the top concept of a
  photo answered within ``radius_km``;
- when the model's vocabulary marks concepts as designed-informative or not (the
  synthetic planet's ``informative`` lists), the share of correctly answered photos whose
  top concept is informative, beside the share expected if the top concept were drawn
  uniformly from the marked concepts (``informative_chance``).

A concept not stored for a photo (``--concepts-top``) counts as score 0. The chart is a
heat map of the lifts (regions × concepts), written as PNG with matplotlib.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geotool.db import sqlfiles
from geotool.errors import GeotoolError, InvalidValueError, require_module
from geotool.learn.registry import get_model, model_family
from geotool.progress import NO_PROGRESS, Progress

SIDES = ("image", "location")


@dataclass
class RegionConcepts:
    """One region's row: its photos, share answered within the radius, top concepts
    as (name, mean score, lift), highest lift first."""

    region: str
    n_photos: int
    accuracy: float
    top: list[tuple[str, float, float]]


@dataclass
class AlignConceptReport:
    """The report of one prediction run (see the module docstring)."""

    model: str
    prediction_run_id: int
    side: str
    by: str
    radius_km: float
    n_photos: int
    concepts: list[str]
    mean_score: dict[str, float]
    top_when_correct: dict[str, int]
    regions: list[RegionConcepts]
    lift: np.ndarray  # [regions, concepts]
    informative: dict[str, float] | None = None
    chart: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "prediction_run_id": self.prediction_run_id,
                "side": self.side, "by": self.by, "radius_km": self.radius_km,
                "n_photos": self.n_photos, "mean_score": self.mean_score,
                "top_when_correct": self.top_when_correct,
                "regions": [{"region": r.region, "n_photos": r.n_photos,
                             "accuracy": r.accuracy,
                             "top": [{"concept": c, "mean_score": m, "lift": lift}
                                     for c, m, lift in r.top]} for r in self.regions],
                "informative": self.informative,
                "chart": str(self.chart) if self.chart else None}


def pick_align_run(engine: Engine, model: str, run_id: int | None) -> int:
    """The given prediction run (checked to be the model's) or the model's newest."""
    with engine.connect() as conn:
        record = get_model(conn, model)
        if model_family(record) != "align":
            raise GeotoolError(f"model {model!r} is a classifier; its concept influence "
                               f"report is `geotool concepts report --model {model}`")
        found = conn.execute(sa.text(
            "SELECT r.id FROM prediction_runs r WHERE r.model_id = :m "
            "AND (CAST(:r AS int) IS NULL OR r.id = :r) "
            "AND EXISTS (SELECT 1 FROM prediction_concepts c WHERE c.prediction_run_id = r.id)"
            " ORDER BY r.id DESC LIMIT 1"), {"m": record.id, "r": run_id}).scalar()
    if found is None:
        raise GeotoolError(f"model {model!r} has no prediction run with concept scores"
                           + (f" numbered {run_id}" if run_id else "")
                           + f"; run `geotool predict --model {model} --dataset D` first")
    return int(found)


def informative_flags(engine: Engine, model: str) -> dict[str, bool] | None:
    """Concept name → designed-informative, from the model's vocabulary (None when the
    vocabulary does not say)."""
    from geotool.learn.align.vocabulary import load_vocabulary

    with engine.connect() as conn:
        record = get_model(conn, model)
    spec = record.params.get("concept_vocab")
    if not spec:
        return None
    try:
        vocab = load_vocabulary(str(spec))
    except GeotoolError:
        return None
    flags = {c.name: bool(c.informative) for c in vocab.concepts if c.informative is not None}
    return flags or None


@dataclass(frozen=True)
class AlignReportParams:
    """What ``geotool align-report`` reports: model ``model``'s prediction run ``run_id``
    (None: its newest with concept scores), the concepts of ``side`` (image | location)
    by the photos' country or, with ``partitioning``, their true cell there; an answer
    within ``radius_km`` counts as correct; ``top`` concepts per region, regions with at
    least ``min_photos``; ``chart`` a PNG path for the heat map."""

    model: str
    run_id: int | None = None
    side: str = "image"
    partitioning: str | None = None
    radius_km: float = 750.0
    top: int = 3
    min_photos: int = 1
    chart: Path | None = None

    def validate(self) -> None:
        if self.side not in SIDES:
            raise InvalidValueError(f"--side {self.side!r}: choose image or location")
        if self.radius_km <= 0:
            raise InvalidValueError(f"--radius-km {self.radius_km}: must be positive")
        if self.top < 1 or self.min_photos < 1:
            raise InvalidValueError("--top and --min-photos must be at least 1")


def align_concept_report(engine: Engine, params: AlignReportParams, *,
                         progress: Progress = NO_PROGRESS) -> AlignConceptReport:
    """Aggregate the concept scores of a prediction run by region (module docstring)."""
    params.validate()
    model, side, partitioning = params.model, params.side, params.partitioning
    radius_km, top, min_photos, chart = (params.radius_km, params.top, params.min_photos,
                                         params.chart)
    progress.phase("concept report", None)
    run = pick_align_run(engine, model, params.run_id)
    with engine.connect() as conn:
        result = sqlfiles.run(conn, "learn/align_report_photos.sql", run=run, side=side,
                              radius=radius_km, partitioning=partitioning)
        assert result is not None
        rows = result.all()
        ids = sorted({int(c) for r in rows for c in r.concept_ids})
        names: dict[int, str] = {int(i): str(n) for i, n in conn.execute(sa.text(
            "SELECT id, name FROM concepts WHERE id = ANY(:i)"), {"i": ids})}
    if not rows:
        raise GeotoolError(f"prediction run {run} holds no {side} concept scores")
    column = {cid: k for k, cid in enumerate(ids)}
    scores = np.zeros((len(rows), len(ids)))
    first = np.zeros(len(rows), dtype=np.int64)
    for i, r in enumerate(rows):
        cols = [column[int(c)] for c in r.concept_ids]
        scores[i, cols] = r.scores
        first[i] = cols[0]
    correct = np.asarray([bool(r.correct) for r in rows])
    region = np.asarray([r.region or "(unknown)" for r in rows], dtype=object)
    concepts = [str(names[c]) for c in ids]
    overall = scores.mean(axis=0)
    regions: list[RegionConcepts] = []
    lifts = []
    for name in sorted(set(region.tolist())):
        mask = region == name
        if mask.sum() < min_photos:
            continue
        mean = scores[mask].mean(axis=0)
        lift = mean / np.where(overall > 0, overall, np.nan)
        order = np.argsort(-np.nan_to_num(lift, nan=-1.0), kind="stable")[:top]
        regions.append(RegionConcepts(str(name), int(mask.sum()), float(correct[mask].mean()),
                                      [(concepts[k], float(mean[k]), float(lift[k]))
                                       for k in order]))
        lifts.append(lift)
    counts = np.bincount(first[correct], minlength=len(ids))
    report = AlignConceptReport(
        model, run, side, partitioning or "country", radius_km, len(rows), concepts,
        {c: float(v) for c, v in zip(concepts, overall, strict=True)},
        {c: int(n) for c, n in zip(concepts, counts, strict=True)}, regions,
        np.asarray(lifts) if lifts else np.zeros((0, len(ids))))
    flags = informative_flags(engine, model)
    if flags and correct.any():
        informative = [k for k, c in enumerate(concepts) if flags.get(c) is True]
        marked = [k for k, c in enumerate(concepts) if c in flags]
        uninformative = [k for k in marked if k not in informative]
        n_ok = int(correct.sum())
        report.informative = {
            "n_correct": float(n_ok),
            "informative_share": float(counts[informative].sum() / n_ok),
            "informative_chance": len(informative) / max(len(marked), 1),
            "per_informative_concept": float(counts[informative].mean() / n_ok)
            if informative else float("nan"),
            "per_uninformative_concept": float(counts[uninformative].mean() / n_ok)
            if uninformative else float("nan")}
    if chart is not None:
        report.chart = _heatmap(report, chart)
    return report


def _heatmap(report: AlignConceptReport, path: Path) -> Path:
    require_module("matplotlib", "ml", "the concept chart")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lift = np.nan_to_num(report.lift, nan=0.0)
    fig, ax = plt.subplots(figsize=(1.0 + 0.45 * len(report.concepts),
                                    1.5 + 0.35 * max(len(report.regions), 1)))
    im = ax.imshow(np.log2(np.clip(lift, 1e-3, None)), cmap="RdBu_r", vmin=-2, vmax=2,
                   aspect="auto")
    ax.set_xticks(range(len(report.concepts)), report.concepts, rotation=60, ha="right")
    ax.set_yticks(range(len(report.regions)), [r.region for r in report.regions])
    ax.set_title(f"{report.model}: {report.side} concept lift by {report.by} (log2)")
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
