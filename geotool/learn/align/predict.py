"""Predictions of an alignment model: coordinates from a gallery, with their concepts.

An alignment model (:class:`geotool.learn.align.model.AlignModel`) answers a photo with
the gallery point whose GPS embedding best matches the photo's image embedding
(:func:`geotool.learn.align.topk.topk_similarity`); the gallery's embeddings come from
the cache (:mod:`geotool.learn.align.cache`), computed once per (checkpoint, gallery).

:func:`predict_align` writes, like the classifier's ``geotool predict``, one row per
photo into ``predictions`` (mode ``gallery``, level 0, no cell: the answered point's
coordinate and ``gallery_index``, its softmax probability over the gallery, the top-k
points with their probabilities) and, into ``prediction_concepts``, the concept scores of
the photo's embedding (side ``image``) and of the answered point's embedding (side
``location``), best first. Parameters live once in ``prediction_runs`` (family
``align``, the gallery); predicting again resumes. Five crops are combined by averaging
their embeddings (and normalising again); ``combine`` is therefore always ``mean``.

:func:`predict_image_align` answers photo files: the answer's place (the nearest
geocoded place to the coordinate), its confidence (the probability mass of the top-k
points within ``near_km`` of the answer) and the concepts that explain it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
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
from geotool.learn.align.cache import file_sha256, gallery_embeddings
from geotool.learn.align.gallery import Gallery, GalleryParams, load_gallery, read_gallery
from geotool.learn.align.topk import TopK, mean_embedding, topk_similarity
from geotool.learn.geodesy import haversine_km
from geotool.learn.inference import (
    CropTransform,
    PredictSummary,
    load_crops,
    normalisation,
    pick_device,
)
from geotool.learn.registry import ModelRecord, get_model, model_family
from geotool.learn.view import view_resize
from geotool.progress import NO_PROGRESS, Progress

FAMILY = "align"
#: prediction_runs.amp of alignment runs: images and GPS are encoded without autocast
AMP = "off"
PREDICTION_COLUMNS = ("prediction_run_id", "image_id", "mode", "level", "probability", "lat",
                      "lon", "true_lat", "true_lon", "topk_probability", "error_km",
                      "gallery_index", "topk_gallery_index")
PREDICTION_TYPES = ("int4", "int8", "text", "int2", "float8", "float8", "float8", "float8",
                    "float8", "float4[]", "float8", "int4", "int4[]")
CONCEPT_COLUMNS = ("prediction_run_id", "image_id", "side", "concept_ids", "scores")
CONCEPT_TYPES = ("int4", "int8", "text", "int4[]", "float4[]")
SCHEMA = "geotool.predict-image-align/1"
#: The cap on exp(logit_scale), as AlignModel.similarity applies it in training.
MAX_LOGIT_SCALE = 100.0

#: (checkpoint path, device) → (model, meta); the trainer's loader by default.
Loader = Callable[[Path, str], tuple[torch.nn.Module, dict[str, Any]]]


def default_loader(path: Path, device: str) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The trainer's :func:`geotool.learn.align.model.load_align_checkpoint`."""
    from geotool.learn.align.model import load_align_checkpoint

    model, meta = load_align_checkpoint(path, device)
    return model, dict(meta)


@dataclass
class LoadedAlign:
    """An alignment model ready to answer: its row, module, checkpoint metadata, the
    checkpoint's content hash (the model half of the cache key) and its input view."""

    row: ModelRecord
    model: Any  # an AlignModel, or any module with its interface (tests' stand-in)
    meta: dict[str, Any]
    checkpoint: Path
    checkpoint_sha256: str
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def concept_names(self) -> list[str]:
        return [str(n) for n in getattr(self.model, "concept_names", [])]

    @property
    def logit_scale(self) -> float:
        """exp(the model's learned log-scale), capped at 100 as in training: the
        softmax's inverse temperature."""
        value = self.model.logit_scale
        scale = value.detach() if isinstance(value, torch.Tensor) else torch.tensor(value)
        return float(scale.float().clamp(max=math.log(MAX_LOGIT_SCALE)).exp())

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode_gps(self, coords: np.ndarray) -> np.ndarray:
        """Coordinates ``[N, 2]`` (degrees) → embeddings ``[N, D]`` float32."""
        with torch.inference_mode():
            x = torch.as_tensor(coords, dtype=torch.float32, device=self.device)
            out: torch.Tensor = self.model.encode_gps(x)
            return out.float().cpu().numpy()

    def encode_crops(self, crops: torch.Tensor) -> torch.Tensor:
        """``[B, C, 3, S, S]`` → ``[B, D]``: crop embeddings averaged, normalised."""
        b, c = crops.shape[:2]
        with torch.inference_mode():
            flat: torch.Tensor = self.model.encode_image(
                crops.to(self.device).flatten(0, 1))
            return mean_embedding(flat.float().reshape(b, c, -1))

    def concept_scores(self, emb: torch.Tensor | np.ndarray, chunk: int = 65_536
                       ) -> np.ndarray:
        """Concept probabilities ``[N, K]`` of embeddings ``[N, D]`` (float32)."""
        x = torch.as_tensor(emb, dtype=torch.float32)
        parts = []
        with torch.inference_mode():
            for i in range(0, x.shape[0], chunk):
                part: torch.Tensor = self.model.concept_scores(x[i:i + chunk].to(self.device))
                parts.append(part.float().cpu())
        return torch.cat(parts).numpy() if parts else np.zeros((0, 0), np.float32)


def load_align(record: ModelRecord, device: str = "cpu",
               loader: Loader | None = None) -> LoadedAlign:
    """Model ``record``'s best checkpoint as a :class:`LoadedAlign`."""
    if model_family(record) != FAMILY:
        raise GeotoolError(f"model {record.name!r} is a {model_family(record)} model, not an "
                           "alignment model")
    if not record.checkpoint_path:
        raise GeotoolError(f"model {record.name!r} has no checkpoint yet (status "
                           f"{record.status}); finish its training with `geotool train "
                           f"--name {record.name} --resume`")
    path = Path(record.checkpoint_path)
    sha = file_sha256(path)
    model, meta = (loader or default_loader)(path, device)
    model.eval()
    config = dict(meta.get("config") or record.params or {})
    size = int(meta.get("image_size") or config.get("image_size") or 224)
    mean, std = normalisation(config)
    return LoadedAlign(record, model, meta, path, sha, size, mean, std)


@dataclass(frozen=True)
class AlignPredictParams:
    """What ``geotool predict`` does for an alignment model. ``gallery`` None: the
    gallery ``<training dataset>_train`` (created from that dataset's training
    coordinates when missing). ``concepts_top`` 0 keeps every concept's score."""

    model: str
    dataset: str
    split: str | None = "test"
    gallery: str | None = None
    crops: int = 1
    top_k: int = 10
    batch_size: int = 64
    resize: int | None = None
    device: str = "auto"
    concepts_top: int = 0
    retry_failed: bool = False
    use_cache: bool = True

    def validate(self) -> None:
        if self.crops not in (1, 5):
            raise InvalidValueError(f"--crops {self.crops}: choose 5 (five crops) or 1 "
                                    "(centre crop)")
        if self.top_k < 1:
            raise InvalidValueError(f"--top-k {self.top_k}: must be at least 1")
        if self.batch_size < 1:
            raise InvalidValueError(f"--batch-size {self.batch_size}: must be at least 1")
        if self.concepts_top < 0:
            raise InvalidValueError(f"--concepts-top {self.concepts_top}: 0 (all) or more")
        if self.resize is not None and self.resize < 1:
            raise InvalidValueError(f"--resize {self.resize}: must be a positive pixel count")


@dataclass
class AlignPredictSummary(PredictSummary):
    """What one call of :func:`predict_align` did: the classifier's summary plus the
    gallery, its size, and whether its embeddings came from the cache."""

    gallery: str = ""
    gallery_points: int = 0
    cache_hit: bool = False
    gallery_seconds: float = 0.0


def training_dataset(record: ModelRecord) -> str | None:
    """The dataset an alignment model was trained on (its config's ``dataset``)."""
    value = record.params.get("dataset")
    return str(value) if value else None  # models.dataset_id goes NULL with the dataset


def resolve_gallery(engine: Engine, record: ModelRecord, name: str | None,
                    fallback_dataset: str) -> Gallery:
    """Gallery ``name``, or the default ``<training dataset>_train``, made when missing."""
    if name is None:
        dataset = training_dataset(record) or fallback_dataset
        name = f"{dataset}_train"
        with engine.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM galleries WHERE name = :n"),
                                  {"n": name}).first()
        if exists is None:
            load_gallery(engine, GalleryParams(name, "dataset", dataset, "train"))
    with engine.connect() as conn:
        return read_gallery(conn, name)


def ensure_concepts(conn: Connection, names: Sequence[str], vocabulary: str) -> list[int]:
    """The ``concepts`` ids of a model's concept bank (inserted when new), in bank order.
    The vocabulary is named ``align:<name>``; a bank that differs from the stored one
    under the same name is refused."""
    vocab = f"align:{vocabulary}"
    for value, concept in enumerate(names):
        conn.execute(sa.text(
            "INSERT INTO concepts (vocabulary, value, name) VALUES (:v, :value, :name) "
            "ON CONFLICT DO NOTHING"), {"v": vocab, "value": value, "name": concept})
    rows = {int(r.value): (int(r.id), str(r.name)) for r in conn.execute(sa.text(
        "SELECT value, id, name FROM concepts WHERE vocabulary = :v"), {"v": vocab})}
    clash = [n for v, n in enumerate(names) if rows.get(v, (0, n))[1] != n]
    if clash:
        raise GeotoolError(f"concept vocabulary {vocab!r} is stored with other names "
                           f"(e.g. {clash[0]!r} differs); give the model's vocabulary "
                           "another name")
    return [rows[v][0] for v in range(len(names))]


def vocabulary_name(loaded: LoadedAlign) -> str:
    """The model's concept vocabulary (its config's ``concept_vocab``: a name such as
    ``planet`` or a file's stem), else the model's name."""
    vocab = str((loaded.meta.get("config") or {}).get("concept_vocab") or "")
    return Path(vocab).stem if vocab else loaded.row.name


def _prediction_run(conn: Connection, loaded: LoadedAlign, params: AlignPredictParams,
                    transform: CropTransform, gallery: Gallery) -> int:
    run_params = {"crops": params.crops, "combine": "mean", "top_k": params.top_k,
                  "resize": transform.resize, "image_size": transform.size,
                  "normalize": {"mean": list(transform.mean), "std": list(transform.std)},
                  "checkpoint": str(loaded.checkpoint),
                  "checkpoint_sha256": loaded.checkpoint_sha256, "gallery": gallery.name,
                  "gallery_sha256": gallery.content_sha256,
                  "logit_scale": loaded.logit_scale, "concepts_top": params.concepts_top}
    # keyed like the classifier's runs (migration 0012): the checkpoint's content and the
    # AMP mode ('off': the alignment family encodes in float32) are part of the key, so
    # new weights make a new run and the old weights' answers stay their own run
    key = {"m": loaded.row.id, "h": loaded.checkpoint_sha256, "amp": AMP, "c": params.crops,
           "k": params.top_k, "r": transform.resize, "g": gallery.id}
    conn.execute(sa.text(
        "INSERT INTO prediction_runs (model_id, checkpoint_sha256, amp, crops, combine, top_k, "
        "resize, image_size, params, family, gallery_id) VALUES (:m, :h, :amp, :c, 'mean', "
        ":k, :r, :s, CAST(:p AS jsonb), 'align', :g) "
        "ON CONFLICT ON CONSTRAINT uq_prediction_runs_key DO NOTHING"),
        {**key, "s": transform.size, "p": json.dumps(run_params)})
    run_id, stored = conn.execute(sa.text(
        "SELECT id, params FROM prediction_runs WHERE model_id = :m AND checkpoint_sha256 = :h "
        "AND amp = :amp AND crops = :c AND combine = 'mean' AND top_k = :k AND resize = :r "
        "AND gallery_id = :g"),
        key).one()
    old = dict(stored or {})
    if (old.get("checkpoint_sha256"), old.get("gallery_sha256")) != \
            (loaded.checkpoint_sha256, gallery.content_sha256):
        # the gallery's content changed since (or the run predates the key): stale answers
        conn.execute(sa.text("DELETE FROM predictions WHERE prediction_run_id = :r"),
                     {"r": run_id})
        conn.execute(sa.text("DELETE FROM prediction_concepts WHERE prediction_run_id = :r"),
                     {"r": run_id})
        conn.execute(sa.text("DELETE FROM prediction_failures WHERE prediction_run_id = :r"),
                     {"r": run_id})
        conn.execute(sa.text("UPDATE prediction_runs SET params = CAST(:p AS jsonb) "
                             "WHERE id = :r"), {"r": run_id, "p": json.dumps(run_params)})
    return int(run_id)


def _todo(engine: Engine, dataset_id: int, split: str | None, run_id: int,
          chunk: int = 10_000) -> Iterator[tuple[int, str | None, float, float]]:
    after = -1
    while True:
        with engine.connect() as conn:
            result = sqlfiles.run(conn, "learn/align_predict_todo.sql", ds=dataset_id, split=split,
                                  after=after, run=run_id, limit=chunk)
            assert result is not None
            rows = result.all()
        if not rows:
            return
        for r in rows:
            yield int(r.id), r.path, float(r.lat), float(r.lon)
        after = int(rows[-1].id)


def ranked_concepts(scores: np.ndarray, concept_ids: Sequence[int], top: int = 0
                    ) -> tuple[list[list[int]], list[list[float]]]:
    """Per row of ``scores`` ``[B, K]``: concept ids and scores, best first (ties: bank
    order), the first ``top`` (0: all)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    if top:
        order = order[:, :top]
    ids = np.asarray(concept_ids, dtype=np.int64)[order]
    vals = np.take_along_axis(scores, order, axis=1)
    return ids.tolist(), [[round(float(v), 6) for v in row] for row in vals]


def answer_rows(run_id: int, image_ids: Sequence[int], true_coords: np.ndarray, top: TopK,
                gallery: Gallery) -> list[tuple[Any, ...]]:
    """COPY rows (``PREDICTION_COLUMNS``) for a batch's answers."""
    idx = top.index.cpu().numpy()
    prob = top.probability.cpu().numpy()
    best = gallery.coords[idx[:, 0]]
    err = haversine_km(best[:, 0], best[:, 1], true_coords[:, 0], true_coords[:, 1])
    return [(run_id, image_id, "gallery", 0, float(prob[b, 0]), float(best[b, 0]),
             float(best[b, 1]), float(true_coords[b, 0]), float(true_coords[b, 1]),
             [round(float(p), 6) for p in prob[b]], float(err[b]), int(idx[b, 0]),
             [int(i) for i in idx[b]]) for b, image_id in enumerate(image_ids)]


def align_transform(loaded: LoadedAlign, crops: int, resize: int | None) -> CropTransform:
    """The crops of the checkpoint's view: ``resize`` or, when None, the shortest edge its
    training validated with (``val_resize``, else ``default_resize``:
    :func:`geotool.learn.view.view_resize`, as the classifier's prediction)."""
    size = loaded.image_size
    config = dict(loaded.meta.get("config") or loaded.row.params or {})
    return CropTransform(size, resize or view_resize(size, config), crops, loaded.mean,
                         loaded.std)


def predict_align(engine: Engine, params: AlignPredictParams, *,
                  progress: Progress = NO_PROGRESS, loader: Loader | None = None
                  ) -> AlignPredictSummary:
    """Predict every photo of ``params.dataset`` (one split, or all with None) with an
    alignment model into ``predictions`` and ``prediction_concepts``; resumable."""
    params.validate()
    device = pick_device(params.device)
    with engine.connect() as conn:
        record = get_model(conn, params.model)
        dataset_id = datasets.dataset_id(conn, params.dataset)
    loaded = load_align(record, str(device), loader)
    gallery = resolve_gallery(engine, record, params.gallery, params.dataset)
    cached = gallery_embeddings(engine, gallery, loaded.checkpoint_sha256, loaded.encode_gps,
                                model_id=record.id, use_cache=params.use_cache,
                                progress=progress)
    gallery_emb = torch.from_numpy(cached.embeddings).to(device)
    gallery_concepts = loaded.concept_scores(gallery_emb)
    transform = align_transform(loaded, params.crops, params.resize)
    with engine.begin() as conn:
        run_id = _prediction_run(conn, loaded, params, transform, gallery)
        concept_ids = ensure_concepts(conn, loaded.concept_names, vocabulary_name(loaded))
        if params.retry_failed:
            conn.execute(sa.text("DELETE FROM prediction_failures WHERE prediction_run_id = :r"),
                         {"r": run_id})
        counted = sqlfiles.run(conn, "learn/align_predict_count.sql", run=run_id, ds=dataset_id,
                               split=params.split)
        assert counted is not None
        counts: tuple[Any, ...] = tuple(counted.one())
        total, done, failed_before = int(counts[0]), int(counts[1]), int(counts[2])
    if total == 0:
        raise GeotoolError(f"dataset {params.dataset!r} has no images"
                           + (f" in split {params.split!r}" if params.split else ""))
    summary = AlignPredictSummary(params.model, run_id, already_done=int(done),
                                  failed_before=failed_before,
                                  gallery=gallery.name, gallery_points=gallery.n_points,
                                  cache_hit=cached.hit, gallery_seconds=cached.seconds)
    scale = loaded.logit_scale
    run_record = {**asdict(params), "prediction_run_id": run_id, "family": FAMILY,
                  "gallery_points": gallery.n_points, "cache_hit": cached.hit,
                  "device": str(device)}
    with recorded_run(engine, "predict", run_record, dataset_id) as run:
        progress.phase("predict", int(total) - int(done))
        start = time.perf_counter()
        batch: list[tuple[int, str | None, float, float]] = []
        todo = _todo(engine, dataset_id, params.split, run_id)
        while True:
            batch = [item for _, item in zip(range(params.batch_size), todo, strict=False)]
            if not batch:
                break
            crops, ok, failed = load_crops([p for _, p, _, _ in batch], transform)
            rows: list[tuple[Any, ...]] = []
            concept_rows: list[tuple[Any, ...]] = []
            if crops is not None:
                emb = loaded.encode_crops(crops)
                top = topk_similarity(emb, gallery_emb, params.top_k, scale)
                ids = [batch[i][0] for i in ok]
                true = np.asarray([(batch[i][2], batch[i][3]) for i in ok], dtype=np.float64)
                rows = answer_rows(run_id, ids, true, top, gallery)
                if concept_ids:
                    img_ids, img_scores = ranked_concepts(
                        loaded.concept_scores(emb), concept_ids, params.concepts_top)
                    best = top.index[:, 0].cpu().numpy()
                    loc_ids, loc_scores = ranked_concepts(
                        gallery_concepts[best], concept_ids, params.concepts_top)
                    for b, image_id in enumerate(ids):
                        concept_rows.append((run_id, image_id, "image", img_ids[b],
                                             img_scores[b]))
                        concept_rows.append((run_id, image_id, "location", loc_ids[b],
                                             loc_scores[b]))
            with engine.begin() as conn:
                copy_rows(conn, "predictions", PREDICTION_COLUMNS, rows, PREDICTION_TYPES)
                copy_rows(conn, "prediction_concepts", CONCEPT_COLUMNS, concept_rows,
                          CONCEPT_TYPES)
                if failed:
                    copy_rows(conn, "prediction_failures",
                              ("prediction_run_id", "image_id", "reason"),
                              [(run_id, batch[i][0], reason) for i, reason in failed.items()])
            summary.predicted += len(ok)
            summary.failed += len(failed)
            summary.seconds = time.perf_counter() - start
            progress.advance(len(batch))
            progress.update(images_per_s=round(summary.images_per_s, 1), failed=summary.failed)
            run.summary.update(predicted=summary.predicted, failed=summary.failed,
                               already_done=summary.already_done)
        run.summary.update(seconds=round(summary.seconds, 3), cache_hit=cached.hit,
                           gallery_seconds=round(cached.seconds, 3))
    return summary


# --------------------------------------------------------------------------- one photo
@dataclass
class PointAnswer:
    """One gallery point of an answer: its index, coordinate and probability."""

    gallery_index: int
    lat: float
    lon: float
    probability: float


@dataclass
class AlignImageAnswer:
    """An alignment model's answer for one photo file (``error`` set when unreadable)."""

    path: str
    error: str | None = None
    lat: float | None = None
    lon: float | None = None
    place: str | None = None
    confidence: float | None = None  # probability mass of the top-k within near_km
    near_km: float = 25.0
    top_k: list[PointAnswer] = field(default_factory=list)
    concepts: list[tuple[str, float]] = field(default_factory=list)  # image side
    location_concepts: list[tuple[str, float]] = field(default_factory=list)

    def summary_line(self, n_concepts: int = 2) -> str:
        """"near Pemozo, Nachail (41 %) — because: arid climate 0.38, mountain 0.21"."""
        where = f"near {self.place}" if self.place else (
            f"at {self.lat:.4f}, {self.lon:.4f}" if self.lat is not None else "nowhere")
        conf = f" ({self.confidence:.0%})".replace("%", " %") if self.confidence is not None \
            else ""
        why = ", ".join(f"{n} {s:.2f}" for n, s in self.concepts[:n_concepts])
        return f"{where}{conf}" + (f" — because: {why}" if why else "")

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of ``geotool predict-image --json`` for alignment models."""
        return {"schema": SCHEMA, "path": self.path, "error": self.error, "lat": self.lat,
                "lon": self.lon, "place": self.place, "confidence": self.confidence,
                "near_km": self.near_km, "top_k": [asdict(p) for p in self.top_k],
                "concepts": [{"concept": n, "score": s} for n, s in self.concepts],
                "location_concepts": [{"concept": n, "score": s}
                                      for n, s in self.location_concepts]}


def confidence_near(top: TopK, gallery: Gallery, row: int, near_km: float) -> float:
    """The probability mass of query ``row``'s top-k points within ``near_km`` of its
    best point (the best point included)."""
    idx = top.index[row].cpu().numpy()
    prob = top.probability[row].cpu().numpy().astype(np.float64)
    pts = gallery.coords[idx]
    d = haversine_km(pts[0, 0], pts[0, 1], pts[:, 0], pts[:, 1])
    return float(prob[d <= near_km].sum())


def place_names(conn: Connection, coords: np.ndarray) -> list[str | None]:
    """"Place, Country" of the geocoded place nearest to each coordinate (None where the
    database holds no geocoded place)."""
    out: list[str | None] = []
    for lat, lon in np.asarray(coords, dtype=np.float64).reshape(-1, 2).tolist():
        result = sqlfiles.run(conn, "learn/align_nearest_place.sql", lat=lat, lon=lon)
        assert result is not None
        row = result.first()
        names = [n for n in ((row.place, row.country) if row is not None else ()) if n]
        out.append(", ".join(dict.fromkeys(names)) or None)
    return out


def predict_image_align(engine: Engine, model: str, paths: Sequence[str | Path], *,
                        gallery: str | None = None, crops: int = 1, top_k: int = 10,
                        resize: int | None = None, device: str = "cpu",
                        near_km: float = 25.0, loader: Loader | None = None
                        ) -> list[AlignImageAnswer]:
    """Answer photo files with alignment model ``model`` (nothing written but the
    gallery cache); an unreadable file gets an answer with ``error`` set."""
    if near_km <= 0:
        raise InvalidValueError(f"--near-km {near_km}: must be positive")
    dev = pick_device(device)
    with engine.connect() as conn:
        record = get_model(conn, model)
    loaded = load_align(record, str(dev), loader)
    gal = resolve_gallery(engine, record, gallery, training_dataset(record) or "")
    cached = gallery_embeddings(engine, gal, loaded.checkpoint_sha256, loaded.encode_gps,
                                model_id=record.id)
    gallery_emb = torch.from_numpy(cached.embeddings).to(dev)
    transform = align_transform(loaded, crops, resize)
    tensor, ok, failed = load_crops([str(p) for p in paths], transform)
    answers = [AlignImageAnswer(str(p), near_km=near_km) for p in paths]
    for i, reason in failed.items():
        answers[i].error = reason
    if tensor is None:
        return answers
    emb = loaded.encode_crops(tensor)
    top = topk_similarity(emb, gallery_emb, top_k, loaded.logit_scale)
    names = loaded.concept_names
    img_scores = loaded.concept_scores(emb)
    best = top.index[:, 0].cpu().numpy()
    loc_scores = loaded.concept_scores(gallery_emb[torch.from_numpy(best).to(dev)])
    with engine.connect() as conn:
        places = place_names(conn, gal.coords[best])
    for b, i in enumerate(ok):
        a = answers[i]
        a.lat, a.lon = float(gal.coords[best[b], 0]), float(gal.coords[best[b], 1])
        a.place = places[b]
        a.confidence = confidence_near(top, gal, b, near_km)
        a.top_k = [PointAnswer(int(j), float(gal.coords[j, 0]), float(gal.coords[j, 1]),
                               float(p)) for j, p in zip(top.index[b].tolist(),
                                                         top.probability[b].tolist(),
                                                         strict=True)]
        if names:
            for scores, target in ((img_scores[b], a.concepts),
                                   (loc_scores[b], a.location_concepts)):
                order = np.argsort(-scores, kind="stable")
                target.extend((names[k], round(float(scores[k]), 4)) for k in order)
    return answers
