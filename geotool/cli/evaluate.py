"""``geotool evaluate``: the accuracy ladder of one or more models with baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out
from geotool.db.engine import get_engine


@friendly_errors
def evaluate(
    model: Annotated[list[str], typer.Option(
        "--model", help="Model to evaluate; repeat for several side by side.")],
    dataset: Annotated[str | None, typer.Option(
        "--dataset", help="Dataset (default: the one the model's set was built from).",
        show_default=False)] = None,
    split: Annotated[str, typer.Option("--split", help="train, val or test.")] = "test",
    strict: Annotated[bool, typer.Option(
        "--strict", help="Count a photo within r km when its error is < r (default <=, "
        "as the reference code).")] = False,
    crops: Annotated[int | None, typer.Option(
        "--crops", help="Use the prediction run with this many crops (default: newest).",
        show_default=False)] = None,
    combine: Annotated[str | None, typer.Option(
        "--combine", help="Use the prediction run with this combination (mean or max).",
        show_default=False)] = None,
    top_k: Annotated[int | None, typer.Option(
        "--top-k", help="Use the prediction run with this top-k (top-5 accuracy needs "
        "k >= 5; a smaller k shows it as missing).", show_default=False)] = None,
    resize: Annotated[int | None, typer.Option(
        "--resize", help="Use the prediction run with this shortest-edge resize.",
        show_default=False)] = None,
    gallery: Annotated[str | None, typer.Option(
        "--gallery", help="Alignment models: use the prediction run with this gallery "
        "(default: newest).", show_default=False)] = None,
    baselines: Annotated[bool, typer.Option(
        "--baselines/--no-baselines", help="Most frequent class, random class, oracle.")
    ] = True,
    fmt: Annotated[str, typer.Option(
        "--format", help="table (Rich), csv, md or latex.")] = "table",
    out_path: Annotated[Path | None, typer.Option(
        "--out", help="Write the csv/md/latex output to this file instead of stdout.",
        show_default=False)] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Accuracy at 1/25/200/750/2500 km, mean/median error, GeoScore, top-1/top-5 and
    semantic (country/state/city) accuracy, computed in SQL from the predictions.

    Both model families share one ladder: an alignment model's row is its gallery answer
    (no class accuracy; its semantic accuracy is judged by the photos' place polygons).

    Example: geotool evaluate --model semp_r50 --model s2_r50 --split test --format md
    """
    from geotool.learn.evaluate import FORMATS, EvaluateParams, rich_table
    from geotool.learn.evaluate import evaluate as run_evaluate

    if fmt not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    params = EvaluateParams(models=tuple(model), dataset=dataset, split=split, strict=strict,
                            crops=crops, combine=combine, top_k=top_k, resize=resize,
                            baselines=baselines, gallery=gallery)
    params.validate()
    table = run_evaluate(get_engine(database_url), params)
    for warning in table.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if fmt == "table":
        out.print(rich_table(table))
        return
    text = table.render(fmt)
    if out_path is not None:
        out_path.write_text(text, encoding="utf-8")
        out.print(f"wrote {len(table.frame)} rows to {out_path}")
    else:
        typer.echo(text, nl=False)
