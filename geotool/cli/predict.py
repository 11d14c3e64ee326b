"""``geotool predict`` and ``geotool predict-image``: a trained model's answers, for a
dataset into the database, or for photo files on the terminal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from geotool.cli.common import DatabaseUrlOption, console, friendly_errors, out, uncut_table
from geotool.cli.progress import RichProgress
from geotool.db.engine import get_engine

if TYPE_CHECKING:  # geotool.learn imports PyTorch: only when a command runs
    from geotool.learn.align.predict import AlignImageAnswer
    from geotool.learn.predict import ImageAnswer, PredictSummary

CropsOption = Annotated[int, typer.Option(
    "--crops", help="5: five crops (four corners and the centre); 1: the centre crop.")]
CombineOption = Annotated[str, typer.Option(
    "--combine", help="How crops are combined after the softmax: mean (the paper's text) "
    "or max (the reference code).")]
GalleryOption = Annotated[str | None, typer.Option(
    "--gallery", help="Alignment models: the gallery to answer from (`geotool gallery "
    "list`; default: <training dataset>_train, made from its training coordinates).",
    show_default=False)]
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
    gallery: GalleryOption = None,
    concepts_top: Annotated[int, typer.Option(
        "--concepts-top", help="Alignment models: concept scores stored per answer and "
        "side, best first (0: all).")] = 0,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Predict every photo of a dataset split into the database (table predictions).

    A classifier: per photo and level, the predicted cell, its probability and
    coordinate, the great-circle error and the top-k cells; plus the hierarchical
    prediction. An alignment model: the best gallery point (its coordinate, probability
    and error), the top-k points, and the concept scores of the photo and of the answered
    point (table prediction_concepts); the gallery's embeddings are computed once per
    checkpoint and gallery and reused. Running the same command again resumes: photos
    already predicted are skipped. Photos that cannot be read are listed in
    prediction_failures.

    Example: geotool predict --model semp_r50 --dataset mp16 --split test
    """
    from geotool.learn.align.predict import AlignPredictSummary
    from geotool.learn.predict import PredictParams
    from geotool.learn.predict import predict as run_predict

    params = PredictParams(model=model, dataset=dataset, split=None if split == "all" else split,
                           crops=crops, combine=combine, top_k=top_k, batch_size=batch_size,
                           resize=resize, device=device, amp=amp, workers=workers,
                           retry_failed=retry_failed, gallery=gallery,
                           concepts_top=concepts_top)
    params.validate()
    with RichProgress(unit=" img/s") as progress:
        summary = run_predict(get_engine(database_url), params, progress=progress)
    if isinstance(summary, AlignPredictSummary):
        how = "from the cache" if summary.cache_hit else "encoded and cached"
        out.print(f"gallery {summary.gallery}: {summary.gallery_points:,} points, embeddings "
                  f"{how} in {summary.gallery_seconds:.1f} s")
    out.print(predict_summary_line(summary, model, dataset, split))


def predict_summary_line(summary: PredictSummary, model: str, dataset: str,
                         split: str) -> str:
    """What ``geotool predict`` prints: counts, the next command, and how to retry
    unreadable photos (a rerun counts them as done)."""
    evaluate_split = "test" if split == "all" else split
    line = (f"{summary.predicted:,} photos predicted ({summary.images_per_s:,.1f} img/s), "
            f"{summary.already_done:,} already done, {summary.failed:,} unreadable "
            f"(prediction run {summary.prediction_run_id}); next: "
            f"geotool evaluate --model {model} --split {evaluate_split}")
    if split == "all":
        line += " (one split at a time: train, val or test)"
    if summary.failed or summary.failed_before:
        line += (f". Unreadable photos ({summary.failed + summary.failed_before:,} in this "
                 "run, listed in prediction_failures) count as done on a rerun: fix the "
                 f"files, then `geotool predict --model {model} --dataset {dataset} --split "
                 f"{split} --retry-failed`")
    return line


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
    gallery: GalleryOption = None,
    near_km: Annotated[float, typer.Option(
        "--near-km", help="Alignment models: the confidence is the probability of the top-k "
        "points within this distance of the answer.")] = 25.0,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Where was this photo taken? A classifier: the hierarchical answer with its
    confidence per level, the predicted coordinate and the most probable cells. An
    alignment model: the answer's place and confidence and the concepts behind it, e.g.
    "near Pemozo, Nachail (41 %) — because: arid climate 0.38, mountain 0.21".

    The files are checked before the model is loaded; the exit code is 1 when any photo
    could not be read (the others are still answered). A photo smaller than the model's
    input is answered with a warning (it is upscaled).

    Example: geotool predict-image photo.jpg --model semp_r50
    """
    from geotool.learn.align.predict import AlignImageAnswer
    from geotool.learn.lookup import ready_model
    from geotool.learn.predict import ImageAnswer, photo_file_problem, photo_size, pick_device
    from geotool.learn.predict import predict_image as run_predict_image
    from geotool.learn.registry import get_model, model_family

    problems = {i: photo_file_problem(p) for i, p in enumerate(photos)}
    readable = [p for i, p in enumerate(photos) if problems[i] is None]
    answers: list[ImageAnswer | AlignImageAnswer] = []
    family = "classifier"
    if readable:  # the model is looked up only when a photo may be read
        engine = get_engine(database_url)
        with engine.connect() as conn:
            family = model_family(get_model(conn, model))
    answered: Iterator[ImageAnswer | AlignImageAnswer] = iter(())
    if readable and family == "align":
        from geotool.learn.align.predict import predict_image_align

        answered = iter(predict_image_align(
            engine, model, readable, gallery=gallery, crops=crops, top_k=top_k,
            resize=resize, device=str(pick_device(device)), near_km=near_km))
    elif readable:
        dev = str(pick_device(device))
        ready = ready_model(engine, model, device=dev)
        size = ready.loaded.image_size
        for p in readable:
            wh = photo_size(p)
            if wh is not None and min(wh) < size:
                console.print(f"[yellow]warning:[/] {escape(str(p))} is {wh[0]}×{wh[1]} px, "
                              f"smaller than the model's {size} px input: it is upscaled, "
                              "expect a less reliable answer", soft_wrap=True)
        answered = iter(run_predict_image(ready, readable, crops=crops, combine=combine,
                                          top_k=top_k, resize=resize, device=dev))
    unread = AlignImageAnswer if family == "align" else ImageAnswer
    for i, p in enumerate(photos):
        problem = problems[i]
        answers.append(unread(str(p), error=problem) if problem is not None
                       else next(answered))
    failed = [a for a in answers if a.error]
    if as_json:
        out.print_json(json.dumps([a.to_dict() for a in answers]))
    elif family == "align":
        _print_align_answers([a for a in answers if isinstance(a, AlignImageAnswer)])
    else:
        _print_answers([a for a in answers if isinstance(a, ImageAnswer)])
    if failed:
        console.print(f"[bold red]error:[/] {len(failed)} of {len(answers)} photo(s) could "
                      f"not be read: {escape('; '.join(str(a.error) for a in failed))}",
                      soft_wrap=True)
        raise typer.Exit(1)


def _print_answers(answers: list[ImageAnswer]) -> None:
    for a in answers:
        out.print(f"[bold]{a.path}[/]")
        if a.error:
            out.print(f"  [red]cannot read:[/] {a.error}")
            continue
        out.print(f"  {a.summary_line()}")
        fine = a.hierarchical[0] if a.hierarchical else None
        if fine is not None:
            out.print(f"  {fine.label}  ({fine.lat:.5f}, {fine.lon:.5f})")
        table = uncut_table("level", "rank", "cell", "probability", "lat", "lon")
        for level in a.top_k:
            for rank, c in enumerate(level, 1):
                table.add_row(f"{c.level} {c.partitioning}", str(rank), c.label,
                              f"{c.probability:.1%}", f"{c.lat:.4f}", f"{c.lon:.4f}")
        out.print(table)


def _print_align_answers(answers: list[AlignImageAnswer]) -> None:
    for a in answers:
        out.print(f"[bold]{a.path}[/]")
        if a.error:
            out.print(f"  [red]cannot read:[/] {a.error}")
            continue
        out.print(f"  {a.summary_line()}")
        out.print(f"  ({a.lat:.5f}, {a.lon:.5f})")
        table = uncut_table("rank", "gallery point", "probability", "lat", "lon")
        for rank, p in enumerate(a.top_k, 1):
            table.add_row(str(rank), str(p.gallery_index), f"{p.probability:.1%}",
                          f"{p.lat:.4f}", f"{p.lon:.4f}")
        out.print(table)
        concepts = uncut_table("concept", "photo", "answered place")
        where = dict(a.location_concepts)
        for name, score in a.concepts[:8]:
            concepts.add_row(name, f"{score:.2f}", f"{where.get(name, 0.0):.2f}")
        out.print(concepts)
