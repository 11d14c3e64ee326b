"""``geotool concepts``: concept influence — compute it over a dataset, report it, explain
one photo (docs/concepts.md)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out
from geotool.cli.progress import RichProgress
from geotool.db.engine import get_engine

if TYPE_CHECKING:  # the explain modules import PyTorch: only when a command runs
    from geotool.explain.pipeline import InfluenceParams

app = typer.Typer(help="Concept influence (ci): which segmented concepts a model's "
                  "explanations rest on.\n\n"
                  "Example: geotool concepts compute --model m1 --dataset demo --split test",
                  no_args_is_help=True)

ModelOption = Annotated[str, typer.Option("--model", help="Name of the model (models.name).")]
NoiseOption = Annotated[int, typer.Option("--noise-samples", help="SmoothGrad samples.")]
StepsOption = Annotated[int, typer.Option("--ig-steps", help="Integrated Gradients steps.")]
SigmaOption = Annotated[float, typer.Option(
    "--noise", help="SmoothGrad σ as a fraction of the input range.")]
KOption = Annotated[int | None, typer.Option(
    "--k", help="Top-k pixels; default 1000 at 224 px, scaled with the pixel count.")]
BetaOption = Annotated[str, typer.Option(
    "--beta", help="Dilations in pixels, comma-separated (0 = none), e.g. 0,1,2.")]
MinSizeOption = Annotated[float, typer.Option(
    "--min-size", help="Skip concepts covering less than this share of the image.")]
ReductionOption = Annotated[str, typer.Option(
    "--reduction", help="Channel reduction: absmax (the method) or max (signed, as the "
                        "reference helper).")]
DeviceOption = Annotated[str, typer.Option("--device", help="cpu or cuda (AMP on cuda).")]
SegOption = Annotated[str, typer.Option(
    "--segmenter", help="masks (label-map PNGs, the images' mask_path or --mask-dir), "
                        "synth (the synthetic planet's masks) or network (--seg-model).")]
SegModelOption = Annotated[Path | None, typer.Option(
    "--seg-model", help="Local segmentation network: TorchScript, or a torchvision state "
                        "dict with --seg-arch.")]
SegArchOption = Annotated[str | None, typer.Option(
    "--seg-arch", help="torchvision segmentation architecture of --seg-model, e.g. "
                       "deeplabv3_resnet50.")]
SegNamesOption = Annotated[Path | None, typer.Option(
    "--seg-names", help="Class names, one per line (line i = label value i); default "
                        "ADE20k's 150.")]
MaskDirOption = Annotated[Path | None, typer.Option(
    "--mask-dir", help="Folder of <external id>.png label maps (instead of mask_path).")]


def _influence(noise_samples: int, ig_steps: int, noise: float, k: int | None, beta: str,
               min_size: float, reduction: str, device: str, batch_size: int = 16,
               limit: int | None = None, seed: int = 0,
               target: str = "predicted") -> InfluenceParams:
    from geotool.explain.attributions import ExplainParams
    from geotool.explain.pipeline import InfluenceParams

    return InfluenceParams(
        explain=ExplainParams(noise_samples=noise_samples, ig_steps=ig_steps,
                              noise_fraction=noise, reduction=reduction, seed=seed,
                              target=target),  # type: ignore[arg-type]
        k=k, betas=InfluenceParams.parse_betas(beta), min_size=min_size,
        batch_size=batch_size, device=device, limit=limit)


@app.command("compute")
@friendly_errors
def compute(
    model: ModelOption,
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset name.")],
    split: Annotated[str, typer.Option("--split", help="train, val or test.")] = "test",
    noise_samples: NoiseOption = 8,
    ig_steps: StepsOption = 16,
    noise: SigmaOption = 0.15,
    k: KOption = None,
    beta: BetaOption = "0",
    min_size: MinSizeOption = 0.0,
    reduction: ReductionOption = "absmax",
    segmenter: SegOption = "masks",
    seg_model: SegModelOption = None,
    seg_arch: SegArchOption = None,
    seg_names: SegNamesOption = None,
    mask_dir: MaskDirOption = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per batch.")] = 16,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N images.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Noise seed.")] = 0,
    target: Annotated[str, typer.Option(
        "--target", help="Explained class: predicted (the model's, default) or true (the "
                         "image's class in the model's partitioning set).")] = "predicted",
    device: DeviceOption = "cpu",
    database_url: DatabaseUrlOption = None,
) -> None:
    """Explain every image of a split and store ci per image, concept and β.

    Resumable: run the same command again after a crash and images already done with
    the same parameters are skipped. Images whose mask is missing or has another size
    are recorded in concept_images (status) and counted.

    Example: geotool concepts compute --model m1 --dataset demo --split test --beta 0,2
    """
    from geotool.explain.pipeline import ConceptParams, compute_concepts
    from geotool.explain.segmenters import make_segmenter

    params = ConceptParams(model=model, dataset=dataset, split=split, influence=_influence(
        noise_samples, ig_steps, noise, k, beta, min_size, reduction, device, batch_size,
        limit, seed, target))
    params.validate()
    seg = make_segmenter(segmenter, names_file=seg_names, folder=mask_dir,
                         model_path=seg_model, arch=seg_arch, device=device)
    with RichProgress(unit=" images/s") as progress:
        summary = compute_concepts(get_engine(database_url), params, progress=progress,
                                   segmenter=seg)
    problems = ", ".join(f"{n} {s}" for s, n in sorted(summary.problems.items())) or "none"
    out.print(f"concept run {summary.concept_run_id}: {summary.images_explained} images "
              f"explained ({summary.images_already_done} already done of "
              f"{summary.images_total}), {summary.rows} ci rows, "
              f"{summary.images_per_s:.2f} images/s; problems: {problems}")


@app.command("report")
@friendly_errors
def report(
    model: ModelOption,
    min_images: Annotated[int, typer.Option(
        "--min-images", help="Keep concepts seen in at least N images (paper: 50; "
                             "appendix 10).")] = 50,
    beta: Annotated[int, typer.Option("--beta", help="Dilation of the tables.")] = 0,
    intervals: Annotated[str, typer.Option(
        "--intervals", help="Error interval edges in km.")] = "0,25,750,2500",
    run: Annotated[int | None, typer.Option(
        "--run", help="Concept run id (default: the model's newest).")] = None,
    design: Annotated[Path | None, typer.Option(
        "--design", help="design.json of a synthetic photo set: report the Spearman "
                         "correlation of median ci with designed informativeness.")] = None,
    chart: Annotated[Path | None, typer.Option(
        "--chart", help="Write the bar chart (Figure 4 style) to this PNG.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Ten highest and lowest concepts per error interval (Table 3), dilation (Table 4).

    Example: geotool concepts report --model m1 --min-images 50 --chart ci.png
    """
    from geotool.explain.report import ReportParams, concept_report, format_report

    params = ReportParams(model=model, run_id=run, beta=beta, min_images=min_images,
                          bounds_km=ReportParams.parse_bounds(intervals), design=design,
                          chart=chart)
    params.validate()
    result = concept_report(get_engine(database_url), params)
    if as_json:
        out.print_json(json.dumps(result.to_dict()))
    else:
        out.print(format_report(result), highlight=False, markup=False)


@app.command("verify")
@friendly_errors
def verify(
    model: ModelOption,
    run: Annotated[int | None, typer.Option(
        "--run", help="Concept run id (default: the model's newest).")] = None,
    fill: Annotated[str, typer.Option(
        "--fill", help="Occlusion: mean (the normalisation's mean colour) or blur (a "
                       "Gaussian blur of the photo).")] = "mean",
    blur_radius: Annotated[float | None, typer.Option(
        "--blur-radius", help="Blur radius in pixels (default: crop / 16).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the control regions.")] = 0,
    min_images: Annotated[int, typer.Option(
        "--min-images", help="Report concepts seen in at least N photos.")] = 10,
    batch_size: Annotated[int, typer.Option(
        "--batch-size", help="Occluded inputs per forward pass.")] = 64,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N photos.")] = None,
    segmenter: SegOption = "masks",
    seg_model: SegModelOption = None,
    seg_arch: SegArchOption = None,
    seg_names: SegNamesOption = None,
    mask_dir: MaskDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    device: DeviceOption = "cpu",
    database_url: DatabaseUrlOption = None,
) -> None:
    """Check ci against the model: occlude each concept and measure the probability drop.

    For every photo and concept of a concept run, the concept's mask is occluded and the
    drop in the explained class's probability is stored, beside the drop for a region
    of the same size elsewhere (the control). Prints per concept the mean drop beside
    the median ci and Spearman's rank correlation between them. Resumable.

    Example: geotool concepts verify --model m1 --fill mean
    """
    from geotool.explain.segmenters import make_segmenter
    from geotool.explain.verify import VerifyParams, format_verify, verify_concepts

    params = VerifyParams(model=model, run=run, fill=fill,  # type: ignore[arg-type]
                          blur_radius=blur_radius, seed=seed, batch_size=batch_size,
                          limit=limit, device=device, min_images=min_images)
    params.validate()
    seg = make_segmenter(segmenter, names_file=seg_names, folder=mask_dir,
                         model_path=seg_model, arch=seg_arch, device=device)
    with RichProgress(unit=" photos/s") as progress:
        summary = verify_concepts(get_engine(database_url), params, progress=progress,
                                  segmenter=seg)
    if as_json:
        out.print_json(json.dumps(summary.to_dict()))
    else:
        out.print(format_verify(summary), highlight=False, markup=False)


@app.command("explain")
@friendly_errors
def explain(
    photo: Annotated[Path, typer.Argument(help="The photo file.")],
    model: ModelOption,
    mask: Annotated[Path | None, typer.Option(
        "--mask", help="Its label map (PNG, one concept id per pixel).")] = None,
    output: Annotated[Path | None, typer.Option(
        "--out", help="Figure PNG: photo, heat map, top-k pixels, ci bars (default "
                      "explanation.png when --html is not given).", show_default=False)
    ] = None,
    html_out: Annotated[Path | None, typer.Option(
        "--html", help="Write ONE self-contained HTML page: the photo, the label path "
                       "with probabilities, a map of the top cells, the heat map and the "
                       "ci bars; for an alignment model the answer, a map of the top "
                       "gallery points and the photo's and the place's concept scores (no "
                       "network needed to view it).", show_default=False)
    ] = None,
    top_k: Annotated[int, typer.Option(
        "--top-k", help="Cells (alignment model: gallery points) on the page's map "
                  "(with --html).")] = 25,
    target_class: Annotated[int | None, typer.Option(
        "--target-class", help="Explain this class (default: the predicted one).")] = None,
    noise_samples: NoiseOption = 16,
    ig_steps: StepsOption = 32,
    noise: SigmaOption = 0.15,
    k: KOption = None,
    beta: BetaOption = "0",
    reduction: ReductionOption = "absmax",
    segmenter: SegOption = "masks",
    seg_model: SegModelOption = None,
    seg_arch: SegArchOption = None,
    seg_names: SegNamesOption = None,
    device: DeviceOption = "cpu",
    database_url: DatabaseUrlOption = None,
) -> None:
    """Explain one photo: write a figure (or an HTML page) and print its ci table.

    With --html the page also shows the model's answer: the label path with the
    probability at each level and a map of the top cells (and the true location when the
    photo is in the database, whose label map is then used when --mask is not given).

    Example: geotool concepts explain photo.jpg --model m1 --html photo.html
    """
    from geotool.explain.photo import PhotoParams, explain_photo
    from geotool.explain.segmenters import make_segmenter

    params = PhotoParams(model=model, photo=photo, mask=mask, out_png=output,
                         target_class=target_class, influence=_influence(
                             noise_samples, ig_steps, noise, k, beta, 0.0, reduction, device))
    params.validate()
    seg = make_segmenter(segmenter, names_file=seg_names, model_path=seg_model,
                         arch=seg_arch, device=device)
    if html_out is not None:
        from geotool.explain.page import ExplainPageParams, explain_page

        explicit_seg = seg if (segmenter != "masks" or mask is not None) else None
        with RichProgress(unit=" steps/s") as progress:
            page = explain_page(get_engine(database_url), ExplainPageParams(
                photo, model, html_out, mask=mask, top_k=top_k, influence=params.influence,
                segmenter=explicit_seg), progress=progress)
        out.print(f"{page.answer}")
        out.print(f"page: {page.path} ({page.bytes / 1e6:.2f} MB, {page.cells} cells, "
                  f"{page.concepts} concepts)" + (f"; error {page.error_km:,.1f} km"
                                                  if page.error_km is not None else ""))
        if output is None:
            return
    if params.out_png is None:
        params = replace(params, out_png=Path("explanation.png"))
    result = explain_photo(get_engine(database_url), params, segmenter=seg)
    out.print(result.table(), highlight=False, markup=False)
    out.print(f"figure: {result.figure}")
