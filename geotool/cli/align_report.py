"""``geotool align-report``: which concepts drive an alignment model's answers, by region."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out


@friendly_errors
def align_report(
    model: Annotated[str, typer.Option("--model", help="Alignment model.")],
    run: Annotated[int | None, typer.Option(
        "--run", help="Prediction run (default: the model's newest with concept scores).",
        show_default=False)] = None,
    side: Annotated[str, typer.Option(
        "--side", help="image (the photo's concepts) or location (the answer's).")] = "image",
    partitioning: Annotated[str | None, typer.Option(
        "--partitioning", help="Regions are this partitioning's cells (default: countries).",
        show_default=False)] = None,
    radius_km: Annotated[float, typer.Option(
        "--radius-km", help="An answer within this distance counts as correct.")] = 750.0,
    top: Annotated[int, typer.Option("--top", help="Concepts shown per region.")] = 3,
    min_photos: Annotated[int, typer.Option(
        "--min-photos", help="Regions with fewer photos are left out.")] = 1,
    chart: Annotated[Path | None, typer.Option(
        "--chart", help="Write the heat map of concept lifts (PNG) here.",
        show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for programs.")] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Per region (country or cell): photos, share answered within the radius, and the
    concepts with the highest lift (mean score there ÷ overall); on the synthetic planet
    also how often correctly answered photos have a designed-informative top concept.

    Example: geotool align-report --model align1 --chart align-concepts.png
    """
    from geotool.db.engine import get_engine
    from geotool.learn.align.report import AlignReportParams, align_concept_report

    report = align_concept_report(get_engine(database_url), AlignReportParams(
        model, run, side, partitioning, radius_km, top, min_photos, chart))
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
        return
    table = Table(title=f"{report.model} (run {report.prediction_run_id}): {report.side} "
                  f"concepts by {report.by}, correct ≤ {report.radius_km:g} km")
    for h in ("region", "photos", "correct", "distinctive concepts (mean, lift)"):
        table.add_column(h)
    for r in report.regions:
        table.add_row(r.region, str(r.n_photos), f"{r.accuracy:.0%}",
                      ", ".join(f"{c} {m:.2f} ×{lift:.1f}" for c, m, lift in r.top))
    out.print(table)
    ranked = sorted(report.top_when_correct.items(), key=lambda kv: -kv[1])
    out.print("top concept of correctly answered photos: "
              + ", ".join(f"{c} {n}" for c, n in ranked if n))
    if report.informative:
        i = report.informative
        out.print(f"designed-informative top concept: {i['informative_share']:.0%} of "
                  f"{int(i['n_correct'])} correct answers (chance "
                  f"{i['informative_chance']:.0%})")
    if report.chart:
        out.print(f"chart: {report.chart}")
