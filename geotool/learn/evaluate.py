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
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geotool.db import datasets, sqlfiles
from geotool.errors import GeotoolError, InvalidValueError
from geotool.learn.registry import ModelRecord, get_model
from geotool.progress import NO_PROGRESS, Progress

RADII_KM = (1, 25, 200, 750, 2500)
LADDER = tuple(f"acc_{r}km" for r in RADII_KM)
MEASURES = (*LADDER, "mean_km", "median_km", "geoscore", "top1", "top5",
            "country", "state", "city")
COLUMNS = ("model", "kind", "prediction", "level", "partitioning", "n_images", *MEASURES)
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
    row = conn.execute(sa.text(
        "SELECT d.id, d.name FROM partitioning_sets s JOIN datasets d ON d.id = s.dataset_id "
        "WHERE s.id = :s"), {"s": model.set_id}).first()
    if row is None:
        raise GeotoolError(f"model {model.name!r}: cannot tell its dataset; pass --dataset")
    return int(row.id), str(row.name)


def pick_prediction_run(conn: Connection, model: ModelRecord, dataset_id: int, split: str,
                        crops: int | None = None, combine: str | None = None) -> int:
    """The newest prediction run of ``model`` (matching crops/combine when given) that
    has predictions for the split, or an error saying which command makes one."""
    run = conn.execute(sa.text(
        "SELECT pr.id FROM prediction_runs pr WHERE pr.model_id = :m "
        "AND (CAST(:crops AS int) IS NULL OR pr.crops = :crops) "
        "AND (CAST(:comb AS text) IS NULL OR pr.combine = :comb) "
        "AND EXISTS (SELECT 1 FROM predictions p JOIN images i ON i.id = p.image_id "
        "            WHERE p.prediction_run_id = pr.id AND i.dataset_id = :ds "
        "            AND i.split = :split) "
        "ORDER BY pr.id DESC LIMIT 1"),
        {"m": model.id, "crops": crops, "comb": combine, "ds": dataset_id,
         "split": split}).scalar()
    if run is None:
        raise GeotoolError(
            f"model {model.name!r} has no predictions for split {split!r} of this dataset"
            + (f" with --crops {crops}" if crops else "")
            + (f" --combine {combine}" if combine else "")
            + f"; run `geotool predict --model {model.name} --split {split}` first")
    return int(run)


@dataclass(frozen=True)
class EvaluateParams:
    """What ``evaluate`` compares: models ``models`` on ``dataset``/``split`` (default
    dataset: the one each model's partitioning set was built from), each through its
    newest prediction run (or the one with ``crops``/``combine``); ``strict`` counts a
    photo within r km when its error is < r (default <=, as the reference code);
    ``baselines`` adds each distinct set's baselines, ``random_baseline`` the random class
    among them (slow on large sets)."""

    models: tuple[str, ...]
    dataset: str | None = None
    split: str = "test"
    strict: bool = False
    crops: int | None = None
    combine: str | None = None
    baselines: bool = True
    random_baseline: bool = True

    def validate(self) -> None:
        if not self.models:
            raise InvalidValueError("name at least one model (--model NAME)")
        if self.split not in ("train", "val", "test"):
            raise InvalidValueError(f"--split {self.split!r}: use train, val or test")
        if self.crops is not None and self.crops < 1:
            raise InvalidValueError(f"--crops {self.crops}: must be at least 1")
        if self.combine is not None and self.combine not in ("mean", "max"):
            raise InvalidValueError(f"--combine {self.combine!r}: use mean or max")


def evaluate(engine: Engine, params: EvaluateParams, *,
             progress: Progress = NO_PROGRESS) -> EvaluationTable:
    """The ladder of each model's newest matching prediction run (:class:`EvaluateParams`),
    with each distinct set's baselines below the models; ``progress`` gets one phase per
    model."""
    params.validate()
    model_names, dataset, split, strict = (params.models, params.dataset, params.split,
                                           params.strict)
    crops, combine, baselines = params.crops, params.combine, params.baselines
    random_baseline = params.random_baseline
    rows: list[dict[str, Any]] = []
    dataset_name = dataset or ""
    seen_sets: list[tuple[int, str]] = []
    with engine.connect() as conn:
        for name in model_names:
            progress.phase(f"evaluating {name}")
            model = get_model(conn, name)
            dataset_id, dataset_name = _dataset(conn, model, dataset)
            run_id = pick_prediction_run(conn, model, dataset_id, split, crops, combine)
            levels = _level_names(conn, model.set_id)
            ladder = conn.execute(sa.text(
                "SELECT * FROM geotool_run_ladder(:run, :strict) "
                "WHERE dataset_id = :ds AND split = :split ORDER BY mode DESC, level"),
                {"strict": strict, "run": run_id, "ds": dataset_id, "split": split}
            ).mappings().all()
            for r in ladder:
                if r["mode"] == "hier" and r["level"] != 0:
                    continue  # the hierarchical answer is its fine class
                rows.append({"model": name, "kind": "model",
                             "prediction": "hierarchical" if r["mode"] == "hier" else "flat",
                             "level": int(r["level"]),
                             "partitioning": levels.get(int(r["level"]), ""),
                             "n_images": int(r["n_images"]),
                             **{m: r[m] for m in MEASURES}})
            if baselines and model.set_id is not None and \
                    (model.set_id, dataset_name) not in seen_sets:
                seen_sets.append((model.set_id, dataset_name))
                rows.extend(_baselines(conn, model, levels, dataset_id, split, strict,
                                       random_baseline))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return EvaluationTable(frame, strict, dataset_name, split)


def _level_names(conn: Connection, set_id: int | None) -> dict[int, str]:
    return {int(level): str(name) for level, name in conn.execute(sa.text(
        "SELECT level, name FROM partitionings WHERE set_id = :s"), {"s": set_id})}


def _baselines(conn: Connection, model: ModelRecord, levels: dict[int, str], dataset_id: int,
               split: str, strict: bool, with_random: bool) -> list[dict[str, Any]]:
    result = sqlfiles.run(conn, "learn/evaluate_baselines.sql", set_id=model.set_id,
                          dataset_id=dataset_id, split=split, strict=strict,
                          with_random=with_random)
    assert result is not None
    out = []
    for r in result.mappings():
        out.append({"model": model.set_name or "", "kind": "baseline",
                    "prediction": r["baseline"], "level": int(r["level"]),
                    "partitioning": levels.get(int(r["level"]), ""),
                    "n_images": int(r["n_images"]),
                    **{m: r.get(m) for m in MEASURES}})
    return out


SHORT = {"hierarchical": "hier", "most frequent class": "most frequent",
         "random class (expected)": "random (exp.)"}


def rich_table(table: EvaluationTable) -> Any:
    """Two Rich tables (a renderable group): the ladder shaped like the paper's Table 2,
    then the other measures; models first, baselines dimmed below them."""
    from rich.console import Group
    from rich.table import Table

    cmp = "<" if table.strict else "≤"
    shown = table.display_frame()
    ladder = Table(title=f"Accuracy on {table.dataset} / {table.split} (%, distance {cmp} r)")
    more = Table(title="Error, GeoScore, class and semantic accuracy (%)")
    for t in (ladder, more):
        for h in ("model", "prediction", "level"):
            t.add_column(h)
    ladder.add_column("n", justify="right")
    for r in RADII_KM:
        ladder.add_column(f"{r} km", justify="right")
    for h in ("mean km", "median km", "GeoScore", "top-1", "top-5", "country", "state",
              "city"):
        more.add_column(h, justify="right")
    rest = [m for m in MEASURES if m not in LADDER]
    for row in shown.itertuples(index=False):
        v = row._asdict()
        head = [str(v["model"]), SHORT.get(str(v["prediction"]), str(v["prediction"])),
                str(v["level"])]
        style = "dim" if v["kind"] == "baseline" else None
        ladder.add_row(*head, str(v["n_images"]), *(_cell(v[m], m) for m in LADDER),
                       style=style)
        more.add_row(*head, *(_cell(v[m], m) for m in rest), style=style)
    return Group(ladder, more)


def _cell(value: Any, measure: str) -> str:
    if _missing(value):
        return "–"
    return f"{value:.1f}" if measure in PERCENT else f"{value:,.0f}"
