"""Reports of concept influence like the paper's: Tables 3 and 4, Figure 4, and the design.

:func:`concept_report` reads one concept run of a model (the newest by default) through
``sql/explain/concepts_report.sql`` and returns, per error interval, every concept seen in at
least ``min_images`` images with its median and mean ci (Table 3 shows the ten highest
and ten lowest), the dilation difference per concept and error interval (median ci with
β minus without, over the images of that interval, so photos beyond the last edge — >
2500 km by default — are not in it, as in the paper's Table 4), optionally a bar chart
PNG (Figure 4), and — when the photos come from the synthetic planet — the Spearman
correlation between each concept's median ci and its designed informativeness (the
number of levels ``design.json`` lists for it; 0 for the uninformative ones).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection, Engine

from geotool.db import sqlfiles
from geotool.errors import GeotoolError, InvalidValueError, require_module
from geotool.explain.pipeline import pick_run
from geotool.progress import NO_PROGRESS, Progress

DEFAULT_BOUNDS_KM = (0.0, 25.0, 750.0, 2500.0)


@dataclass(frozen=True)
class ReportParams:
    """What ``concept_report`` aggregates: one concept run of model ``model`` (``run_id``,
    default the newest), at dilation ``beta``, concepts seen in at least ``min_images``
    images. ``bounds_km`` are the interval edges (0, 25, 750, 2500 → three intervals);
    ``design`` a ``design.json`` path or dict for the Spearman correlation; ``chart`` a PNG
    path for the bar chart (needs matplotlib); ``top`` concepts per end of each table."""

    model: str
    run_id: int | None = None
    beta: int = 0
    min_images: int = 50
    bounds_km: tuple[float, ...] = DEFAULT_BOUNDS_KM
    design: Path | dict[str, list[str]] | None = None
    chart: Path | None = None
    top: int = 10

    @classmethod
    def parse_bounds(cls, text: str) -> tuple[float, ...]:
        """``--intervals 0,25,750,2500``: the interval edges in km."""
        try:
            return tuple(float(v) for v in text.split(",") if v.strip())
        except ValueError:
            raise InvalidValueError(f"--intervals {text!r}: give numbers, e.g. 0,25,750,2500"
                                    ) from None

    def validate(self) -> None:
        bounds = list(self.bounds_km)
        if len(bounds) < 2 or bounds != sorted(bounds):
            raise InvalidValueError(f"interval edges {bounds} must be at least two "
                                    "increasing numbers, e.g. 0,25,750,2500")
        if self.min_images < 1:
            raise InvalidValueError(f"--min-images {self.min_images}: must be at least 1")
        if self.beta < 0:
            raise InvalidValueError(f"--beta {self.beta}: must be 0 or more")


@dataclass
class ConceptStat:
    concept: str
    n_images: int
    median_ci: float
    mean_ci: float


@dataclass
class IntervalTable:
    lower_km: float
    upper_km: float
    rows: list[ConceptStat]  # by median ci, highest first

    @property
    def label(self) -> str:
        hi = "inf" if math.isinf(self.upper_km) else f"{self.upper_km:g}"
        return f"[{self.lower_km:g}, {hi}) km"

    def top(self, n: int = 10) -> list[ConceptStat]:
        return self.rows[:n]

    def bottom(self, n: int = 10) -> list[ConceptStat]:
        return self.rows[-n:][::-1] if len(self.rows) > n else self.rows[::-1]


@dataclass
class DilationRow:
    concept: str
    beta: int
    n_images: int
    median_ci_0: float
    median_ci_beta: float
    lower_km: float = 0.0  # the error interval [lower_km, upper_km) the medians are over
    upper_km: float = math.inf

    @property
    def difference(self) -> float:
        return self.median_ci_beta - self.median_ci_0


@dataclass
class ConceptReport:
    model: str
    concept_run_id: int
    params: dict[str, Any]
    beta: int
    min_images: int
    intervals: list[IntervalTable]
    overall: IntervalTable  # all images with an error, pooled
    dilation: list[DilationRow] = field(default_factory=list)
    spearman: float | None = None
    design: dict[str, list[str]] | None = None
    chart: Path | None = None
    verification: Any = None  # geotool.explain.verify.VerifySummary of the newest check

    def to_dict(self) -> dict[str, Any]:
        def table(t: IntervalTable) -> dict[str, Any]:
            return {"lower_km": t.lower_km, "upper_km": t.upper_km,
                    "rows": [vars(r) for r in t.rows]}
        return {"model": self.model, "concept_run_id": self.concept_run_id,
                "beta": self.beta, "min_images": self.min_images,
                "intervals": [table(t) for t in self.intervals],
                "overall": table(self.overall),
                "dilation": [{**vars(d), "difference": d.difference} for d in self.dilation],
                "spearman": self.spearman,
                "verification": (self.verification.to_dict() if self.verification is not None
                                 else None),
                "chart": str(self.chart) if self.chart else None}


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when a side is constant."""
    def ranks(v: list[float]) -> np.ndarray:
        a = np.asarray(v, dtype=np.float64)
        order = np.argsort(a, kind="stable")
        r = np.empty(len(a))
        r[order] = np.arange(1, len(a) + 1)
        for value in np.unique(a):  # average the ranks of ties
            same = a == value
            r[same] = r[same].mean()
        return r
    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def informativeness(design: dict[str, list[str]]) -> dict[str, int]:
    """Designed informativeness of each concept: how many levels carry its signal."""
    return {concept: len(levels) for concept, levels in design.items()}


def _stats(conn: Connection, run_id: int, beta: int, bounds: list[tuple[float, float]],
           min_images: int) -> list[IntervalTable]:
    rows = sqlfiles.run(conn, "explain/concepts_report.sql", run_id=run_id, beta=beta,
                        lower_km=[b[0] for b in bounds], upper_km=[b[1] for b in bounds],
                        min_images=min_images)
    assert rows is not None
    by: dict[tuple[float, float], list[ConceptStat]] = {b: [] for b in bounds}
    for r in rows:
        by[(float(r.lower_km), float(r.upper_km))].append(
            ConceptStat(r.concept, int(r.n_images), float(r.median_ci), float(r.mean_ci)))
    return [IntervalTable(lo, hi, by[(lo, hi)]) for lo, hi in bounds]


def concept_report(engine: Engine, params: ReportParams, *,
                   progress: Progress = NO_PROGRESS) -> ConceptReport:
    """Aggregate one concept run of ``params.model`` (see the module docstring and
    :class:`ReportParams`); ``progress`` gets one phase."""
    params.validate()
    model_name, run_id, beta, min_images = (params.model, params.run_id, params.beta,
                                            params.min_images)
    bounds_km, design, chart = params.bounds_km, params.design, params.chart
    progress.phase("concept report")
    bounds = list(zip(bounds_km[:-1], bounds_km[1:], strict=True))
    with engine.begin() as conn:
        concept_run_id, run_params = pick_run(conn, model_name, run_id)
        betas = [int(b) for b in run_params.get("betas", [0])]
        if beta not in betas:
            raise GeotoolError(f"concept run {concept_run_id} has β {betas}, not {beta}")
        intervals = _stats(conn, concept_run_id, beta, bounds, min_images)
        overall = _stats(conn, concept_run_id, beta, [(0.0, math.inf)], min_images)[0]
        # Table 4: per error interval, median ci with β against without, same images
        # (eligibility is decided on the undilated mask, so both are over one photo set)
        dilation: list[DilationRow] = []
        base = ({(t.lower_km, s.concept): s for t in
                 _stats(conn, concept_run_id, 0, bounds, min_images) for s in t.rows}
                if 0 in betas else {})
        for b in betas:
            if b == 0 or not base:
                continue
            for t in _stats(conn, concept_run_id, b, bounds, min_images):
                for s in t.rows:
                    if (t.lower_km, s.concept) in base:
                        dilation.append(DilationRow(
                            s.concept, b, s.n_images,
                            base[(t.lower_km, s.concept)].median_ci, s.median_ci,
                            t.lower_km, t.upper_km))
        dilation.sort(key=lambda d: (d.beta, d.lower_km, -d.difference))
        from geotool.explain.verify import latest_verification

        verification = latest_verification(conn, concept_run_id, min_images)
    report = ConceptReport(model_name, concept_run_id, run_params, beta, min_images,
                           intervals, overall, dilation, verification=verification)
    if design is not None:
        report.design = (dict(json.loads(Path(design).read_text(encoding="utf-8")))
                         if isinstance(design, Path | str) else dict(design))
        score = informativeness(report.design)
        seen = [s for s in overall.rows if s.concept in score]
        if len(seen) >= 3:
            report.spearman = spearman([s.median_ci for s in seen],
                                       [float(score[s.concept]) for s in seen])
    if chart is not None:
        report.chart = bar_chart(report, Path(chart), params.top)
    return report


def save_figure(fig: Any, path: Path, dpi: int) -> Path:
    """Write a Matplotlib figure to ``path`` and close it (also when writing fails); a
    path that cannot be written is the user's to fix, so it is a :class:`GeotoolError`."""
    import matplotlib.pyplot as plt

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    except OSError as exc:
        raise GeotoolError(f"cannot write the figure to {path}: {exc.strerror or exc}; "
                           "choose a writable path") from None
    finally:
        plt.close(fig)
    return path


def bar_chart(report: ConceptReport, path: Path, top: int = 10) -> Path:
    """Figure 4: median ci of the most influential concepts, one bar group per interval."""
    require_module("matplotlib", "dev", "the concept bar chart")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tables = [t for t in report.intervals if t.rows] or [report.overall]
    concepts = [s.concept for s in report.overall.top(top)] or \
        sorted({s.concept for t in tables for s in t.rows})[:top]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(concepts) + 2), 4.0))
    width = 0.8 / max(1, len(tables))
    for j, table in enumerate(tables):
        med = {s.concept: s.median_ci for s in table.rows}
        xs = np.arange(len(concepts)) + j * width
        ax.bar(xs, [med.get(c, 0.0) for c in concepts], width, label=table.label)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xticks(np.arange(len(concepts)) + 0.4 - width / 2, concepts, rotation=45,
                  ha="right")
    ax.set_ylabel("median concept influence (ci)")
    ax.set_title(f"{report.model}: concept influence by error interval (β={report.beta})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, 120)


def format_report(report: ConceptReport, top: int = 10) -> str:
    """Plain-text tables (what ``geotool concepts report`` prints)."""
    lines = [f"Concept influence of model {report.model} (concept run "
             f"{report.concept_run_id}, β={report.beta}, concepts seen in >= "
             f"{report.min_images} images)"]
    for table in [*report.intervals, report.overall]:
        name = "all images" if table is report.overall else table.label
        n = max([s.n_images for s in table.rows], default=0)
        lines.append(f"\n{name}: {len(table.rows)} concepts (up to {n} images each)")
        if not table.rows:
            continue
        lines.append(f"  {'highest':<28} {'median':>7} {'mean':>7} {'n':>5}   "
                     f"{'lowest':<28} {'median':>7} {'mean':>7} {'n':>5}")
        hi, lo = table.top(top), table.bottom(top)
        for i in range(max(len(hi), len(lo))):
            a = hi[i] if i < len(hi) else None
            b = lo[i] if i < len(lo) else None
            left = (f"{a.concept:<28} {a.median_ci:7.2f} {a.mean_ci:7.2f} {a.n_images:5d}"
                    if a else " " * 51)
            right = (f"{b.concept:<28} {b.median_ci:7.2f} {b.mean_ci:7.2f} {b.n_images:5d}"
                     if b else "")
            lines.append(f"  {left}   {right}")
    if report.dilation:
        lines.append("\nDilation (median ci with β minus without, per error interval):")
        for d in report.dilation:
            span = IntervalTable(d.lower_km, d.upper_km, []).label
            lines.append(f"  β={d.beta:<3} {span:<18} {d.concept:<28} {d.median_ci_0:7.2f} "
                         f"-> {d.median_ci_beta:7.2f}  ({d.difference:+.2f})")
    if report.design is not None:
        score = informativeness(report.design)
        rho = "n/a" if report.spearman is None or math.isnan(report.spearman) \
            else f"{report.spearman:.3f}"
        lines.append(f"\nSpearman(median ci, designed informativeness) = {rho} over "
                     f"{sum(1 for s in report.overall.rows if s.concept in score)} concepts")
    if report.verification is not None:
        from geotool.explain.verify import format_verify

        v = report.verification
        lines.append(f"\nOcclusion check (verify run {v.verify_run_id}, fill {v.fill}, "
                     f"{v.images_total} photos; geotool concepts verify):")
        lines.extend(format_verify(v).splitlines()[2:])
    if report.chart:
        lines.append(f"\nbar chart: {report.chart}")
    return "\n".join(lines)
