"""``geotool demo``: the whole pipeline on the built-in synthetic planet (the README's
first command). Parses options, shows progress and prints the report of
:func:`geotool.demo.run_demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out, uncut_table
from geotool.cli.progress import RichProgress


@friendly_errors
def demo(
    countries: Annotated[int, typer.Option(help="Countries in the synthetic world.")] = 6,
    photos: Annotated[int, typer.Option(help="Photos to render (train/val/test).")] = 3000,
    size: Annotated[int, typer.Option(help="Photo size in pixels.")] = 96,
    seed: Annotated[int, typer.Option(help="Seed of the world and the photos.")] = 7,
    geocoder: Annotated[str, typer.Option(
        help="bulk (SQL on Nominatim's tables) or nominatim (in-process reverse).")] = "bulk",
    workdir: Annotated[Path | None, typer.Option(
        help="Where the world and photos go (default: <geotool home>/demo).")] = None,
    learn: Annotated[bool, typer.Option(
        "--learn/--no-learn", help="Also train, predict, evaluate and explain (the ml "
        "extra); --no-learn stops after the partitionings.")] = True,
    epochs: Annotated[int | None, typer.Option(
        help="Training epochs (default: training/synthetic.toml's).")] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Run the pipeline end to end on the synthetic planet: private PostGIS, a seeded world
    imported into a local Nominatim, rendered photos, ingest, reverse geocoding, SemP and
    S2 partitionings (checked against the generator's own truth), then a model per
    partitioning, five-crop prediction of the test split, the accuracy ladder against the
    baselines, one photo answered, and concept influence with its chart. Finished steps
    are skipped on the next run, so it can be interrupted and run again.

    Example: geotool demo --countries 6 --photos 3000
    """
    from geotool.demo import DemoParams, run_demo

    params = DemoParams(seed=seed, countries=countries, photos=photos, size=size,
                        geocoder=geocoder, learn=learn, epochs=epochs, workdir=workdir,
                        database_url=database_url)
    params.validate()
    with RichProgress() as progress:
        report = run_demo(params, progress=progress)

    steps = uncut_table("step", "result", "seconds", title="geotool demo")
    for st in report.steps:
        steps.add_row(st.name, ("[dim](done before)[/] " if st.skipped else "") + st.detail,
                      f"{st.seconds:,.1f}")
    out.print(steps)
    out.print("images: " + ", ".join(f"{k} {v:,}" for k, v in report.images.items()))
    out.print(f"address vectors equal to the generator's hierarchy: "
              f"{report.geocode_agreement:.1%} of {report.geocode_checked:,} images")
    out.print(f"labelled images inside their SemP cell's OSM polygon: "
              f"{report.cells_containing:.1%}")
    levels = uncut_table("set", "level", "partitioning", "τ", "classes", "labelled",
                         "median img/class")
    for lv in report.partitionings:
        levels.add_row(lv["set"], str(lv["level"]), lv["name"], str(lv["tau"] or "-"),
                       f"{lv['n_classes']:,}", f"{lv['n_labelled']:,}",
                       "-" if lv["images_median"] is None else f"{lv['images_median']:g}")
    out.print(levels)
    out.print("largest SemP cells: " + "; ".join(report.cell_examples))
    if report.evaluation is not None:
        from geotool.learn.evaluate import rich_table

        out.print(rich_table(report.evaluation))
    if report.answer is not None:
        a = report.answer
        label = a.hierarchical[0].label if a.hierarchical else ""
        out.print(f"one test photo, {a.path}:\n  answer: {a.summary_line()} — {label} "
                  f"({a.lat:.3f}, {a.lon:.3f})\n  truth:  {report.answer_truth}")
    if report.align_answer is not None and report.align_answer.error is None:
        b = report.align_answer
        out.print(f"  alignment model: {b.summary_line()} ({b.lat:.3f}, {b.lon:.3f})")
    if report.concepts_text:
        out.print(report.concepts_text)
        out.print(f"concept chart: {report.concept_chart}")
    if report.viewing:
        out.print("look at it:\n" + "\n".join(f"  {line}" for line in report.viewing))
    out.print("Next: geotool partitions show demo_semp · "
              "geotool export cells demo_semp --format gpkg --out demo_cells.gpkg · "
              "geotool evaluate --model demo_semp_model --model demo_s2_model "
              "--model demo_align_model · geotool align-report --model demo_align_model · "
              "geotool predict-image PHOTO --model demo_semp_model")

