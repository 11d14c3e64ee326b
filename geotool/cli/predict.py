"""``geotool predict`` and ``geotool predict-image``: a trained model's answers, for a
dataset into the database, or for photo files on the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out
from geotool.cli.progress import RichProgress
from geotool.db.engine import get_engine

CropsOption = Annotated[int, typer.Option(
    "--crops", help="5: five crops (four corners and the centre); 1: the centre crop.")]
CombineOption = Annotated[str, typer.Option(
    "--combine", help="How crops are combined after the softmax: mean (the paper's text) "
    "or max (the reference code).")]
ResizeOption = Annotated[int | None, typer.Option(
    "--resize", help="Shortest edge in pixels before cropping (default: model size "
    "× 256/224, e.g. 256 for 224 px).", show_default=False)]


@friendly_errors
def predict(
    model: Annotated[str, typer.Option("--model", help="Name of the trained model.")],
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset whose photos to predict.")],
    split: Annotated[str, typer.Option("--split", help="train, val, test, or all.")] = "test",
    crops: CropsOption = 5,
    combine: CombineOption = "mean",
    top_k: Annotated[int, typer.Option("--top-k", help="Cells kept per level.")] = 10,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Photos per batch.")] = 64,
    resize: ResizeOption = None,
    device: Annotated[str, typer.Option(
        "--device", help="auto (CUDA when present), cpu, cuda, cuda:1 …")] = "auto",
    amp: Annotated[bool, typer.Option(
        "--amp/--no-amp", help="Autocast on CUDA: bf16 where the GPU has it, else fp16.")
    ] = True,
    workers: Annotated[int, typer.Option("--workers", help="Photo decoding processes.")] = 0,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="Try photos again that a previous run could not read.")] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Predict every photo of a dataset split into the database (table predictions).

    Per photo and level: the predicted cell, its probability and coordinate, the
    great-circle error and the top-k cells; plus the hierarchical prediction. Running
    the same command again resumes: photos already predicted are skipped. Photos that
    cannot be read are listed in prediction_failures.

    Example: geotool predict --model semp_r50 --dataset mp16 --split test
    """
    from geotool.learn.predict import PredictParams
    from geotool.learn.predict import predict as run_predict

    params = PredictParams(model=model, dataset=dataset, split=None if split == "all" else split,
                           crops=crops, combine=combine, top_k=top_k, batch_size=batch_size,
                           resize=resize, device=device, amp=amp, workers=workers,
                           retry_failed=retry_failed)
    params.validate()
    with RichProgress(unit=" img/s") as progress:
        summary = run_predict(get_engine(database_url), params, progress=progress)
    out.print(f"{summary.predicted:,} photos predicted ({summary.images_per_s:,.1f} img/s), "
              f"{summary.already_done:,} already done, {summary.failed:,} unreadable "
              f"(prediction run {summary.prediction_run_id}); next: "
              f"geotool evaluate --model {model} --split {split}")


@friendly_errors
def predict_image(
    photos: Annotated[list[Path], typer.Argument(help="JPEG or PNG files.")],
    model: Annotated[str, typer.Option("--model", help="Name of the trained model.")],
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print JSON (schema geotool.predict-image/1) for programs.")] = False,
    crops: CropsOption = 5,
    combine: CombineOption = "mean",
    top_k: Annotated[int, typer.Option("--top-k", help="Cells shown per level.")] = 5,
    resize: ResizeOption = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    database_url: DatabaseUrlOption = None,
) -> None:
    """Where was this photo taken? The hierarchical answer with its confidence per level,
    the predicted coordinate and the most probable cells.

    Example: geotool predict-image photo.jpg --model semp_r50
    """
    from geotool.learn.lookup import ready_model
    from geotool.learn.predict import pick_device
    from geotool.learn.predict import predict_image as run_predict_image

    dev = str(pick_device(device))
    ready = ready_model(get_engine(database_url), model, device=dev)
    answers = run_predict_image(ready, photos, crops=crops, combine=combine, top_k=top_k,
                                resize=resize, device=dev)
    if as_json:
        out.print_json(json.dumps([a.to_dict() for a in answers]))
        return
    for a in answers:
        out.print(f"[bold]{a.path}[/]")
        if a.error:
            out.print(f"  [red]cannot read:[/] {a.error}")
            continue
        out.print(f"  {a.summary_line()}")
        fine = a.hierarchical[0] if a.hierarchical else None
        if fine is not None:
            out.print(f"  {fine.label}  ({fine.lat:.5f}, {fine.lon:.5f})")
        table = Table("level", "rank", "cell", "probability", "lat", "lon")
        for level in a.top_k:
            for rank, c in enumerate(level, 1):
                table.add_row(f"{c.level} {c.partitioning}", str(rank), c.label,
                              f"{c.probability:.1%}", f"{c.lat:.4f}", f"{c.lon:.4f}")
        out.print(table)
