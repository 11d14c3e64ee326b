"""Evaluation: the accuracy ladder of one or more models with baselines, computed in SQL.

Every number comes from the database: ``geotool_run_ladder(run, strict)`` (the view
``evaluation_ladder`` is its ``<=`` form for every run) over ``predictions``, and
``sql/learn/evaluate_baselines.sql`` for the most-frequent-class, random-class and oracle
baselines of each model's partitioning set. Python only picks the prediction runs,
gathers the rows into one table (:class:`EvaluationTable`, shaped like the paper's
Table 2: a row per model and prediction, accuracy at 1 / 25 / 200 / 750 / 2500 km, then
mean/median error, GeoScore, top-1/top-5 and semantic accuracy) and writes it as CSV,
Markdown or LaTeX (pandas) or a Rich table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geotool.db import datasets, sqlfiles
from geotool.errors import GeotoolError, InvalidValueError
from geotool.learn.registry import ModelRecord, get_model, model_family
from geotool.progress import NO_PROGRESS, Progress

RADII_KM = (1, 25, 200, 750, 2500)
LADDER = tuple(f"acc_{r}km" for r in RADII_KM)
MEASURES = (*LADDER, "mean_km", "median_km", "geoscore", "top1", "top5",
            "country", "state", "city")
#: the prediction run a row comes from and its parameters (baselines: the run whose photos
#: they are computed over)
RUN_COLUMNS = ("run", "crops", "combine", "top_k", "resize")
COLUMNS = ("model", "kind", "prediction", "level", "partitioning", *RUN_COLUMNS, "n_images",
           *MEASURES)
FORMATS = ("table", "csv", "md", "latex")
PERCENT = set(LADDER) | {"top1", "top5", "country", "state", "city"}


@dataclass
class EvaluationTable:
    """The evaluation rows (``frame``, columns ``COLUMNS``; shares in [0, 1], km, GeoScore
    points) and how distances were compared (``strict``: ``<`` instead of ``<=``)."""

    frame: pd.DataFrame
    strict: bool
    dataset: str
    split: str
    #: things a reader must know (a run that covers fewer photos than the split)
    warnings: list[str] = field(default_factory=list)

    def display_frame(self) -> pd.DataFrame:
        """Shares as percentages (one decimal), km and GeoScore rounded: for people."""
        out = self.frame.copy()
        for col in MEASURES:
            if col in PERCENT:
                out[col] = out[col].map(lambda v: None if _missing(v) else round(100 * v, 1))
            else:
                out[col] = out[col].map(lambda v: None if _missing(v) else round(v, 1))
        return out

    def to_csv(self) -> str:
        """Machine-readable: the raw shares and kilometres, full precision."""
        return str(self.frame.to_csv(index=False))

    def to_markdown(self) -> str:
        frame = self.display_frame().astype(object).where(self.display_frame().notna(), "")
        header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
        rule = "|" + "|".join("---" for _ in frame.columns) + "|"
        lines = [header, rule]
        for row in frame.itertuples(index=False):
            lines.append("| " + " | ".join(str(v) for v in row) + " |")
        return "\n".join(lines) + "\n"

    def to_latex(self) -> str:
        return str(self.display_frame().to_latex(index=False, na_rep="--", float_format="%.1f"))

    def render(self, fmt: str) -> str:
        if fmt == "csv":
            return self.to_csv()
        if fmt == "md":
            return self.to_markdown()
        if fmt == "latex":
            return self.to_latex()
        raise GeotoolError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _dataset(conn: Connection, model: ModelRecord, dataset: str | None) -> tuple[int, str]:
    if dataset is not None:
        return datasets.dataset_id(conn, dataset), dataset
    if model_family(model) == "align" and model.params.get("dataset"):
        name = str(model.params["dataset"])  # an alignment model: its training dataset
        return datasets.dataset_id(conn, name), name
    row = conn.execute(sa.text(
        "SELECT d.id, d.name FROM partitioning_sets s JOIN datasets d ON d.id = s.dataset_id "
        "WHERE s.id = :s"), {"s": model.set_id}).first()
    if row is None:
        raise GeotoolError(f"model {model.name!r}: cannot tell its dataset; pass --dataset")
    return int(row.id), str(row.name)


@dataclass(frozen=True)
class PickedRun:
    """The prediction run a model's rows come from, and how much of the split it covers."""

    id: int
    crops: int
    combine: str
    top_k: int
    resize: int
    answered: int  # photos of the split with an answer (flat, level 0)
    failed: int  # photos of the split recorded as failures
    split_photos: int  # photos in the split

    def columns(self) -> dict[str, Any]:
        return {"run": self.id, "crops": self.crops, "combine": self.combine,
                "top_k": self.top_k, "resize": self.resize}


def pick_prediction_run(conn: Connection, model: ModelRecord, dataset_id: int, split: str,
                        crops: int | None = None, combine: str | None = None,
                        top_k: int | None = None, resize: int | None = None,
                        gallery: str | None = None) -> PickedRun:
    """The newest prediction run of ``model`` (matching crops/combine/top_k/resize, and for
    an alignment model the gallery, when given) that has predictions for the split, or an
    error saying which command makes one."""
    row = conn.execute(sa.text(
        "SELECT pr.id, pr.crops, pr.combine, pr.top_k, pr.resize FROM prediction_runs pr "
        "WHERE pr.model_id = :m "
        "AND (CAST(:crops AS int) IS NULL OR pr.crops = :crops) "
        "AND (CAST(:comb AS text) IS NULL OR pr.combine = :comb) "
        "AND (CAST(:k AS int) IS NULL OR pr.top_k = :k) "
        "AND (CAST(:r AS int) IS NULL OR pr.resize = :r) "
        "AND (CAST(:gallery AS text) IS NULL OR pr.gallery_id = "
        "     (SELECT g.id FROM galleries g WHERE g.name = :gallery)) "
        "AND EXISTS (SELECT 1 FROM predictions p JOIN images i ON i.id = p.image_id "
        "            WHERE p.prediction_run_id = pr.id AND i.dataset_id = :ds "
        "            AND i.split = :split) "
        "ORDER BY pr.id DESC LIMIT 1"),
        {"m": model.id, "crops": crops, "comb": combine, "k": top_k, "r": resize,
         "ds": dataset_id, "split": split, "gallery": gallery}).first()
    if row is None:
        asked = "".join(f" {flag} {value}" for flag, value in (
            ("--crops", crops), ("--combine", combine), ("--top-k", top_k),
            ("--resize", resize), ("--gallery", gallery)) if value is not None)
        raise GeotoolError(
            f"model {model.name!r} has no predictions for split {split!r} of this dataset"
            + (f" with{asked}" if asked else "")
            + f"; run `geotool predict --model {model.name} --split {split}{asked}` first")
    answered, failed, total = conn.execute(sa.text(
        "SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM predictions p "
        "  WHERE p.prediction_run_id = :run AND p.image_id = i.id "
        "  AND p.mode IN ('flat', 'gallery') AND p.level = 0)), "
        "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM prediction_failures f "
        "  WHERE f.prediction_run_id = :run AND f.image_id = i.id)), count(*) "
        "FROM images i WHERE i.dataset_id = :ds AND i.split = :split"),
        {"run": row.id, "ds": dataset_id, "split": split}).one()
    return PickedRun(int(row.id), int(row.crops), str(row.combine), int(row.top_k),
                     int(row.resize), int(answered), int(failed), int(total))


def _coverage_warning(model: str, run: PickedRun, split: str) -> str | None:
    if run.answered >= run.split_photos:
        return None
    missing = run.split_photos - run.answered - run.failed
    why = []
    if missing:
        why.append(f"{missing:,} not predicted yet (a stopped run: run `geotool predict "
                   f"--model {model} --split {split}` with the same options to finish it)")
    if run.failed:
        why.append(f"{run.failed:,} failed (see prediction_failures; retry with "
                   "--retry-failed)")
    return (f"model {model!r}: prediction run {run.id} answered {run.answered:,} of the "
            f"{run.split_photos:,} photos of split {split!r} — " + "; ".join(why)
            + ". Its rows and the baselines beside it are over those "
            f"{run.answered:,} photos only.")


@dataclass(frozen=True)
class EvaluateParams:
    """What ``evaluate`` compares: models ``models`` on ``dataset``/``split`` (default
    dataset: the one each model's partitioning set was built from; for an alignment
    model, its training dataset), each through its newest prediction run (or the one
    with ``crops``/``combine``/``top_k``/``resize``, and for an alignment model
    ``gallery``); ``strict``
    counts a photo within r km when its error is < r (default <=, as the reference code);
    ``baselines`` adds each distinct set's baselines, ``random_baseline`` the random class
    among them (slow on large sets).

    Both families share the ladder: a classifier's rows are its flat levels and its
    hierarchical answer, an alignment model's row is its gallery answer ('gallery
    top-1', the partitioning column naming the gallery; no class accuracy). Alignment
    models have no partitioning set, hence no baselines of their own: evaluate them with
    a classifier to see the set's baselines beside them."""

    models: tuple[str, ...]
    dataset: str | None = None
    split: str = "test"
    strict: bool = False
    crops: int | None = None
    combine: str | None = None
    top_k: int | None = None
    resize: int | None = None
    baselines: bool = True
    random_baseline: bool = True
    gallery: str | None = None

    def validate(self) -> None:
        if not self.models:
            raise InvalidValueError("name at least one model (--model NAME)")
        if self.split == "all":  # `predict --split all` exists; evaluation is per split
            raise InvalidValueError(
                "--split all: evaluate reports one split at a time (its photo set and "
                "baselines are per split); give --split train, val or test — a `predict "
                "--split all` run covers each of them")
        if self.split not in ("train", "val", "test"):
            raise InvalidValueError(f"--split {self.split!r}: use train, val or test")
        if self.crops is not None and self.crops < 1:
            raise InvalidValueError(f"--crops {self.crops}: must be at least 1")
        if self.combine is not None and self.combine not in ("mean", "max"):
            raise InvalidValueError(f"--combine {self.combine!r}: use mean or max")
        if self.top_k is not None and self.top_k < 1:
            raise InvalidValueError(f"--top-k {self.top_k}: must be at least 1")
        if self.resize is not None and self.resize < 1:
            raise InvalidValueError(f"--resize {self.resize}: must be a positive pixel count")


def evaluate(engine: Engine, params: EvaluateParams, *,
             progress: Progress = NO_PROGRESS) -> EvaluationTable:
    """The ladder of each model's newest matching prediction run (:class:`EvaluateParams`),
    with each distinct set's baselines below the models, over the same photos as the
    model's run; ``progress`` gets one phase per model. Every row names its run and the
    run's crops, combine, top_k and resize; a run that answered fewer photos than the
    split has (stopped, or with failures) adds a warning."""
    params.validate()
    model_names, dataset, split, strict = (params.models, params.dataset, params.split,
                                           params.strict)
    crops, combine, baselines = params.crops, params.combine, params.baselines
    top_k, resize = params.top_k, params.resize
    random_baseline, gallery = params.random_baseline, params.gallery
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    dataset_name = dataset or ""
    seen_sets: list[tuple[int, str, int | None]] = []
    with engine.connect() as conn:
        for name in model_names:
            progress.phase(f"evaluating {name}")
            model = get_model(conn, name)
            dataset_id, dataset_name = _dataset(conn, model, dataset)
            align = model_family(model) == "align"
            run = pick_prediction_run(conn, model, dataset_id, split, crops,
                                      combine if not align else None, top_k, resize,
                                      gallery if align else None)
            warning = _coverage_warning(name, run, split)
            if warning:
                warnings.append(warning)
            levels = (_gallery_name(conn, run.id) if align
                      else _level_names(conn, model.set_id))
            ladder = conn.execute(sa.text(
                "SELECT * FROM geotool_run_ladder(:run, :strict) "
                "WHERE dataset_id = :ds AND split = :split ORDER BY mode DESC, level"),
                {"strict": strict, "run": run.id, "ds": dataset_id, "split": split}
            ).mappings().all()
            for r in ladder:
                if r["mode"] == "hier" and r["level"] != 0:
                    continue  # the hierarchical answer is its fine class
                rows.append({"model": name, "kind": "model",
                             "prediction": PREDICTION_OF_MODE[str(r["mode"])],
                             "level": int(r["level"]),
                             "partitioning": levels.get(int(r["level"]), ""),
                             **run.columns(), "n_images": int(r["n_images"]),
                             **{m: r[m] for m in MEASURES}})
            # the baselines of a set once per photo set: a complete run's photos are the
            # split's; a partial run gets its own baselines over its own photos
            photos = None if run.answered >= run.split_photos else run.id
            if baselines and model.set_id is not None and \
                    (model.set_id, dataset_name, photos) not in seen_sets:
                seen_sets.append((model.set_id, dataset_name, photos))
                rows.extend(_baselines(conn, model, levels, dataset_id, split, strict,
                                       random_baseline, run))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("run", "crops", "top_k", "resize"):  # whole numbers, missing for baselines
        frame[col] = frame[col].astype("Int64")
    return EvaluationTable(frame, strict, dataset_name, split, warnings)


PREDICTION_OF_MODE = {"flat": "flat", "hier": "hierarchical", "gallery": "gallery top-1"}


def _gallery_name(conn: Connection, run_id: int) -> dict[int, str]:
    name = conn.execute(sa.text(
        "SELECT g.name FROM prediction_runs r JOIN galleries g ON g.id = r.gallery_id "
        "WHERE r.id = :r"), {"r": run_id}).scalar()
    return {0: f"gallery {name}"}


def _level_names(conn: Connection, set_id: int | None) -> dict[int, str]:
    return {int(level): str(name) for level, name in conn.execute(sa.text(
        "SELECT level, name FROM partitionings WHERE set_id = :s"), {"s": set_id})}


def _baselines(conn: Connection, model: ModelRecord, levels: dict[int, str], dataset_id: int,
               split: str, strict: bool, with_random: bool, run: PickedRun
               ) -> list[dict[str, Any]]:
    """The set's baselines over the photos ``run`` answered (all of the split's when it
    answered them all)."""
    complete = run.answered >= run.split_photos
    result = sqlfiles.run(conn, "learn/evaluate_baselines.sql", set_id=model.set_id,
                          dataset_id=dataset_id, split=split, strict=strict,
                          with_random=with_random, run=None if complete else run.id)
    assert result is not None
    out = []
    for r in result.mappings():
        out.append({"model": model.set_name or "", "kind": "baseline",
                    "prediction": r["baseline"], "level": int(r["level"]),
                    "partitioning": levels.get(int(r["level"]), ""),
                    "run": None if complete else run.id, "crops": None, "combine": None,
                    "top_k": None, "resize": None, "n_images": int(r["n_images"]),
                    **{m: r.get(m) for m in MEASURES}})
    return out


SHORT = {"hierarchical": "hier", "gallery top-1": "gallery", "most frequent class": "most frequent",
         "random class (expected)": "random (exp.)"}


def rich_table(table: EvaluationTable) -> Any:
    """Three Rich tables (a renderable group): the prediction run behind each model's rows
    (run, crops, combine, top-k, resize), the ladder shaped like the paper's Table 2, then
    the other measures; models first, baselines dimmed below them."""
    from rich.console import Group
    from rich.table import Table

    cmp = "<" if table.strict else "≤"
    shown = table.display_frame()
    ladder = Table(title=f"Accuracy on {table.dataset} / {table.split} (%, distance {cmp} r)")
    more = Table(title="Error, GeoScore, class and semantic accuracy (%)")
    for t in (ladder, more):
        for h in ("model", "prediction", "level"):
            t.add_column(h, overflow="fold")
    ladder.add_column("n", justify="right", overflow="fold")
    for r in RADII_KM:
        ladder.add_column(f"{r} km", justify="right", overflow="fold")
    for h in ("mean km", "median km", "GeoScore", "top-1", "top-5", "country", "state",
              "city"):
        more.add_column(h, justify="right", overflow="fold")
    rest = [m for m in MEASURES if m not in LADDER]
    for row in shown.itertuples(index=False):
        v = row._asdict()
        head = [str(v["model"]), SHORT.get(str(v["prediction"]), str(v["prediction"])),
                str(v["level"])]
        style = "dim" if v["kind"] == "baseline" else None
        ladder.add_row(*head, str(v["n_images"]), *(_cell(v[m], m) for m in LADDER),
                       style=style)
        more.add_row(*head, *(_cell(v[m], m) for m in rest), style=style)
    runs = Table(title="Prediction runs")
    for h in ("model", "run", "crops", "combine", "top-k", "resize"):
        runs.add_column(h, justify="left" if h in ("model", "combine") else "right")
    models = table.frame[table.frame["kind"] == "model"]
    for r in models.drop_duplicates("model").itertuples(index=False):
        runs.add_row(str(r.model), str(r.run), str(r.crops), str(r.combine), str(r.top_k),
                     str(r.resize))
    return Group(runs, ladder, more)


def _cell(value: Any, measure: str) -> str:
    if _missing(value):
        return "–"
    return f"{value:.1f}" if measure in PERCENT else f"{value:,.0f}"
