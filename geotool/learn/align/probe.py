"""Linear probes on an alignment model's frozen embeddings (the paper's second claim).

Hou et al. report that concept-aware alignment makes the GPS embedding a better
feature for downstream tasks (income, species, air temperature) than GeoCLIP's. geotool
measures the same on its own data: the embeddings of a dataset's photos — of their GPS
coordinates (``side = "gps"``) or of the photos themselves (``side = "image"``) — are
computed with the model frozen, a linear model is fitted on the ``train`` split and
scored on the held-out ``test`` split. Two models (λ = 0 and λ > 0) probed with the same
parameters are directly comparable.

Targets: ``country`` (the photo's country from its geocoded address vector),
``climate`` (the synthetic planet's climate band of each photo, from the photo set's
``photos.json``), or ``csv`` (a file ``id,value`` keyed by the photos' external ids: a
numeric value is a regression target, anything else a class).

Fits (pure functions below, NumPy/PyTorch, no scikit-learn): closed-form ridge
regression (intercept unpenalised; a class target is one-hot encoded and the arg-max
answers: a ridge classifier), or multinomial logistic regression with an L2 penalty
(full-batch L-BFGS in PyTorch). Classes report accuracy (and the most-frequent-class
baseline), numbers R².
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sqlalchemy.engine import Engine

from geotool.db import datasets, sqlfiles
from geotool.errors import GeotoolError, InvalidValueError, MissingInputError
from geotool.learn.align.predict import Loader, align_transform, load_align
from geotool.learn.inference import load_crops, pick_device
from geotool.learn.registry import get_model
from geotool.progress import NO_PROGRESS, Progress

TARGETS = ("country", "climate", "csv")
SIDES = ("gps", "image")
METHODS = ("ridge", "logistic")


# --------------------------------------------------------------------------- pure fits
@dataclass
class LinearFit:
    """``y ≈ x @ weight + bias`` (``weight`` ``[D, T]``, ``bias`` ``[T]``)."""

    weight: np.ndarray
    bias: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) @ self.weight + self.bias


def ridge_fit(x: np.ndarray, y: np.ndarray, alpha: float) -> LinearFit:
    """Closed-form ridge regression: minimise ‖Xc W − Yc‖² + α‖W‖² on centred data
    (the intercept is not penalised); α = 0 is ordinary least squares (minimum-norm
    solution when X is rank-deficient)."""
    if alpha < 0:
        raise InvalidValueError(f"--alpha {alpha}: the ridge penalty must be 0 or more")
    x = np.asarray(x, dtype=np.float64)
    y2 = np.asarray(y, dtype=np.float64)
    y2 = y2[:, None] if y2.ndim == 1 else y2
    xm, ym = x.mean(axis=0), y2.mean(axis=0)
    xc, yc = x - xm, y2 - ym
    if alpha == 0:
        w = np.linalg.lstsq(xc, yc, rcond=None)[0]
    else:
        w = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ yc)
    return LinearFit(w, ym - xm @ w)


def logistic_fit(x: np.ndarray, labels: np.ndarray, n_classes: int, alpha: float,
                 max_iter: int = 200) -> LinearFit:
    """Multinomial logistic regression: minimise the mean cross-entropy + α/2 ‖W‖²/n
    (intercept unpenalised) with full-batch L-BFGS, float64, from zeros (deterministic)."""
    if alpha < 0:
        raise InvalidValueError(f"--alpha {alpha}: the penalty must be 0 or more")
    xt = torch.as_tensor(np.asarray(x, dtype=np.float64))
    yt = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    n, d = xt.shape
    w = torch.zeros(d, n_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, tolerance_grad=1e-9,
                            tolerance_change=1e-12, history_size=20,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ w + b, yt) \
            + 0.5 * alpha * (w * w).sum() / n
        loss.backward()
        return loss

    opt.step(closure)
    return LinearFit(w.detach().numpy(), b.detach().numpy())


def r2_score(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination 1 − SS_res / SS_tot (mean over outputs)."""
    y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    p2 = np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)
    ss_res = ((y2 - p2) ** 2).sum(axis=0)
    ss_tot = ((y2 - y2.mean(axis=0)) ** 2).sum(axis=0)
    return float(np.mean(1.0 - ss_res / np.where(ss_tot > 0, ss_tot, np.nan)))


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.zeros((len(labels), n_classes))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def fit_and_score(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                  y_test: np.ndarray, kind: str, method: str, alpha: float
                  ) -> dict[str, float]:
    """Fit on train, score on test. ``kind`` ``class`` (labels 0..C-1): accuracy, and the
    most-frequent-class accuracy; ``value``: R² (ridge only)."""
    if kind == "value":
        if method != "ridge":
            raise InvalidValueError("a numeric target is fitted by ridge regression: "
                                    "--method ridge")
        fit = ridge_fit(x_train, y_train, alpha)
        return {"r2": r2_score(y_test, fit.predict(x_test)),
                "r2_train": r2_score(y_train, fit.predict(x_train))}
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    if method == "ridge":
        fit = ridge_fit(x_train, one_hot(y_train, n_classes), alpha)
    else:
        fit = logistic_fit(x_train, y_train, n_classes, alpha)
    frequent = int(np.bincount(y_train, minlength=n_classes).argmax())
    return {"accuracy": float(np.mean(fit.predict(x_test).argmax(axis=1) == y_test)),
            "accuracy_train": float(np.mean(fit.predict(x_train).argmax(axis=1) == y_train)),
            "most_frequent": float(np.mean(y_test == frequent))}


# --------------------------------------------------------------------------- the stage
@dataclass(frozen=True)
class ProbeParams:
    """What ``geotool probe`` fits: a ``target`` (country | climate | csv with
    ``target_file``) from the ``side`` (gps | image) embeddings of model ``model`` on
    ``dataset`` (default: the model's training dataset), fitted on ``train_split`` and
    scored on ``test_split`` with ``method`` (ridge | logistic) and penalty ``alpha``."""

    model: str
    target: str
    side: str = "gps"
    dataset: str | None = None
    method: str = "ridge"
    alpha: float = 1.0
    train_split: str = "train"
    test_split: str = "test"
    target_file: str | None = None
    batch_size: int = 64
    device: str = "auto"

    def validate(self) -> None:
        if self.target not in TARGETS:
            raise InvalidValueError(f"--target {self.target!r}: choose one of "
                                    f"{', '.join(TARGETS)}")
        if (self.target == "csv") != (self.target_file is not None):
            raise InvalidValueError("--target csv goes with --target-file FILE (id,value), "
                                    "and only with it")
        if self.side not in SIDES:
            raise InvalidValueError(f"--side {self.side!r}: choose gps or image")
        if self.method not in METHODS:
            raise InvalidValueError(f"--method {self.method!r}: choose ridge or logistic")
        if self.alpha < 0:
            raise InvalidValueError(f"--alpha {self.alpha}: must be 0 or more")
        for split in (self.train_split, self.test_split):
            if split not in ("train", "val", "test"):
                raise InvalidValueError(f"split {split!r}: choose train, val or test")
        if self.train_split == self.test_split:
            raise InvalidValueError("the probe is scored on held-out photos: the train and "
                                    "test splits must differ")


@dataclass
class ProbeSummary:
    """A probe's result: sizes, the measures of :func:`fit_and_score`, the classes."""

    model: str
    target: str
    side: str
    method: str
    alpha: float
    dataset: str
    n_train: int
    n_test: int
    kind: str  # class | value
    classes: list[str]
    scores: dict[str, float]

    def headline(self) -> str:
        if self.kind == "value":
            return f"R² {self.scores['r2']:.3f}"
        return (f"accuracy {self.scores['accuracy']:.1%} (most frequent class "
                f"{self.scores['most_frequent']:.1%}, {len(self.classes)} classes)")


def _photos(engine: Engine, dataset_id: int, splits: Sequence[str]) -> list[Any]:
    with engine.connect() as conn:
        result = sqlfiles.run(conn, "learn/align_probe_photos.sql", ds=dataset_id,
                              splits=list(splits))
        assert result is not None
        return list(result.all())


def _climates(rows: Sequence[Any], dataset: str) -> dict[str, str]:
    """The synthetic planet's climate per photo id, from the photo set's photos.json."""
    seen: set[Path] = set()
    out: dict[str, str] = {}
    for r in rows:
        if not r.path:
            continue
        for parent in Path(r.path).parents:
            if parent in seen:
                break
            seen.add(parent)
            doc = parent / "photos.json"
            if doc.is_file():
                for rec in json.loads(doc.read_text(encoding="utf-8"))["photos"]:
                    out[str(rec["id"])] = str(rec["climate"])
                break
    if not out:
        raise GeotoolError(f"--target climate: dataset {dataset!r} has no climate truth (the "
                           "synthetic planet's photos.json beside its photos); use --target "
                           "country or --target csv --target-file FILE")
    return out


def _csv_target(path: str) -> dict[str, str]:
    file = Path(path)
    if not file.is_file():
        raise MissingInputError(f"--target-file {file} does not exist")
    with file.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader, [])]
        if header[:2] != ["id", "value"]:
            raise InvalidValueError(f"--target-file {file}: the first line must be id,value")
        return {row[0]: row[1] for row in reader if len(row) >= 2 and row[1] != ""}


def _labels(target: str, rows: Sequence[Any], params: ProbeParams, dataset: str
            ) -> dict[int, str]:
    if target == "country":
        return {int(r.id): str(r.country) for r in rows if r.country}
    truth = _climates(rows, dataset) if target == "climate" else \
        _csv_target(str(params.target_file))
    return {int(r.id): truth[str(r.external_id)] for r in rows
            if str(r.external_id) in truth}


def _is_numeric(values: Sequence[str]) -> bool:
    try:
        [float(v) for v in values]
    except ValueError:
        return False
    return True


def probe(engine: Engine, params: ProbeParams, *, progress: Progress = NO_PROGRESS,
          loader: Loader | None = None) -> ProbeSummary:
    """Fit and score one linear probe (see the module docstring)."""
    params.validate()
    device = pick_device(params.device)
    with engine.connect() as conn:
        record = get_model(conn, params.model)
        dataset = params.dataset or str(record.params.get("dataset") or "")
        if not dataset:
            raise GeotoolError(f"model {params.model!r}: name the dataset to probe on "
                               "(--dataset)")
        dataset_id = datasets.dataset_id(conn, dataset)
    loaded = load_align(record, str(device), loader)
    rows = _photos(engine, dataset_id, (params.train_split, params.test_split))
    labels = _labels(params.target, rows, params, dataset)
    rows = [r for r in rows if int(r.id) in labels]
    train = [r for r in rows if r.split == params.train_split]
    test = [r for r in rows if r.split == params.test_split]
    if len(train) < 2 or not test:
        raise GeotoolError(f"--target {params.target}: {len(train)} {params.train_split} and "
                           f"{len(test)} {params.test_split} photos of {dataset!r} have a "
                           "value; a probe needs both splits")
    progress.phase("embed", len(rows))
    if params.side == "gps":
        coords = np.asarray([(r.lat, r.lon) for r in rows], dtype=np.float64)
        emb = np.concatenate([loaded.encode_gps(coords[i:i + 4096])
                              for i in range(0, len(coords), 4096)])
        progress.advance(len(rows))
    else:
        transform = align_transform(loaded, 1, None)
        parts: list[np.ndarray] = []
        keep: list[Any] = []
        for i in range(0, len(rows), params.batch_size):
            chunk = rows[i:i + params.batch_size]
            crops, ok, _ = load_crops([r.path for r in chunk], transform)
            if crops is not None:
                parts.append(loaded.encode_crops(crops).cpu().numpy())
                keep.extend(chunk[j] for j in ok)
            progress.advance(len(chunk))
        rows, emb = keep, np.concatenate(parts) if parts else np.zeros((0, 1))
        train = [r for r in rows if r.split == params.train_split]
        test = [r for r in rows if r.split == params.test_split]
    values = [labels[int(r.id)] for r in rows]
    is_train = np.asarray([r.split == params.train_split for r in rows])
    if params.target == "csv" and _is_numeric(values):
        kind, classes = "value", []
        y = np.asarray([float(v) for v in values])
    else:
        kind = "class"
        classes = sorted(set(values))
        index = {c: k for k, c in enumerate(classes)}
        y = np.asarray([index[v] for v in values], dtype=np.int64)
    scores = fit_and_score(emb[is_train], y[is_train], emb[~is_train], y[~is_train], kind,
                           params.method, params.alpha)
    return ProbeSummary(params.model, params.target, params.side, params.method, params.alpha,
                        dataset, len(train), len(test), kind, classes, scores)


def probe_rows(summaries: Sequence[ProbeSummary]) -> list[dict[str, Any]]:
    """One flat dict per summary (for tables and CSV)."""
    return [{"model": s.model, "target": s.target, "side": s.side, "method": s.method,
             "alpha": s.alpha, "n_train": s.n_train, "n_test": s.n_test, **s.scores}
            for s in summaries]

