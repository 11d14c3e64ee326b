"""``geotool train``: train a model of either family — the multi-partitioning classifier on
a partitioning set, or the concept-aware image–GPS alignment model on a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out
from geotool.db.engine import get_engine


@friendly_errors
def train(
    partitions: Annotated[str | None, typer.Option(
        help="Classifier: partitioning set to learn (one head per level).")] = None,
    dataset: Annotated[str | None, typer.Option(
        help="Alignment model (family = \"align\" in --config): dataset whose photos and "
             "coordinates it learns.")] = None,
    name: Annotated[str | None, typer.Option(help="Name of the model.")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="TOML file of training settings (flags override it).")] = None,
    backbone: Annotated[str | None, typer.Option(
        help="resnet50, efficientnet_b4, small_cnn … (default resnet50).")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue the model's run from its last checkpoint.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an existing model of this name.")] = False,
    epochs: Annotated[int | None, typer.Option(help="Epochs (default 15).")] = None,
    batch_size: Annotated[int | None, typer.Option(
        help="Global batch size (default 200; split over torchrun's processes).")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate (default 0.01).")] = None,
    image_size: Annotated[int | None, typer.Option(
        help="Input size (default: the backbone's).")] = None,
    workers: Annotated[int | None, typer.Option(help="Data loader processes.")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or cuda:N.")] = None,
    amp: Annotated[str | None, typer.Option(help="CUDA mixed precision: auto, off, bf16, "
                                                 "fp16.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of order and augmentation.")] = None,
    weights: Annotated[Path | None, typer.Option(
        help="Local torchvision state dict or geotool checkpoint to start from.")] = None,
    init_from: Annotated[str | None, typer.Option(
        help="Start the backbone from this geotool model (e.g. country pre-training).")
    ] = None,
    checkpoint_dir: Annotated[Path | None, typer.Option(
        help="Folder of best.pt and last.pt (default <geotool home>/models/<name>).")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many steps.")] = None,
    max_bad_share: Annotated[float | None, typer.Option(
        help="Stop when more than this share of images is bad (default 0.01).")] = None,
    tensorboard: Annotated[Path | None, typer.Option(
        help="Also write TensorBoard event files to this folder.")] = None,
    pretrained: Annotated[bool | None, typer.Option(
        "--pretrained/--no-pretrained",
        help="Start the backbone from its packaged ImageNet weights (efficientnet_lite0).")
    ] = None,
    concept_lambda: Annotated[float | None, typer.Option(
        help="Alignment model: weight λ of the concept loss (0 = GeoCLIP-style baseline).")
    ] = None,
    concept_supervision: Annotated[float | None, typer.Option(
        help="Alignment model: weight μ of the concept-truth loss (masks, climates).")
    ] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Train a model: a classifier (a CNN backbone with one linear head per level of a
    partitioning set, --partitions) or, with family = "align" in the --config file, the
    concept-aware image–GPS alignment model (--dataset; GeoCLIP's defaults: Adam 3e-5).

    Classifier defaults are the paper's (SGD lr 0.01, momentum 0.9, weight decay 1e-4, 15 epochs,
    batch 200, validation every 512,000 images, best = lowest validation loss); a
    --config file and then flags override them. Progress shows images/s, loss, learning
    rate and ETA; curves go to the training_metrics table. Several GPUs or machines: run
    the same command under torchrun (training/README.md).

    Example: geotool train --config training/synthetic.toml --partitions demo_semp --name m1

    Example: geotool train --partitions semp_50_75_100 --name r50 --backbone resnet50

    Example: geotool train --name r50 --resume

    Example: geotool train --config training/align_synthetic.toml --dataset demo --name align1
    """
    from geotool.cli.progress import RichProgress
    from geotool.learn.config import load_train_config
    from geotool.learn.train import TrainParams
    from geotool.learn.train import train as run_training

    overrides: dict[str, Any] = {
        "partitions": partitions, "dataset": dataset, "name": name, "backbone": backbone,
        "epochs": epochs,
        "batch_size": batch_size, "lr": lr, "image_size": image_size, "workers": workers,
        "device": device, "amp": amp, "seed": seed,
        "weights": str(weights) if weights else None, "init_from": init_from,
        "checkpoint_dir": str(checkpoint_dir) if checkpoint_dir else None,
        "max_steps": max_steps, "max_bad_share": max_bad_share, "pretrained": pretrained,
        "concept_lambda": concept_lambda, "concept_supervision": concept_supervision,
        "tensorboard": str(tensorboard) if tensorboard else None}
    params = TrainParams(load_train_config(config, **overrides), resume=resume, force=force)
    params.validate()
    engine = get_engine(database_url)
    with RichProgress() as progress:
        result = run_training(engine, params, progress=progress)
    if result.weights_note:
        out.print(f"initialised: {result.weights_note}")
    if result.resumed_from_step is not None:
        out.print(f"resumed from step {result.resumed_from_step}")
    out.print(f"[bold]{result.model_name}[/]: {result.steps:,} steps, "
              f"{result.images_seen:,} images, {result.seconds:,.0f} s; "
              f"{result.bad_images} bad images skipped (each once; bad_images table)")
    if result.best_metrics and "acc_l0" not in result.best_metrics:
        m = result.best_metrics
        out.print(f"best validation loss {m['loss']:.4f} (InfoNCE {m['loss_nce']:.4f}, "
                  f"concept {m['loss_concept']:.4f}); within 25/200/750/2500 km "
                  f"{m['acc_25km']:.3f}/{m['acc_200km']:.3f}/{m['acc_750km']:.3f}/"
                  f"{m['acc_2500km']:.3f}")
    elif result.best_metrics:
        m = result.best_metrics
        levels = sorted(int(k[5:]) for k in m if k.startswith("acc_l"))
        accs = ", ".join(f"level {k} {m[f'acc_l{k}']:.3f}" for k in levels)
        out.print(f"best validation loss {m['loss']:.4f}: accuracy {accs}; "
                  f"within 25/200/750/2500 km {m['acc_25km']:.3f}/{m['acc_200km']:.3f}/"
                  f"{m['acc_750km']:.3f}/{m['acc_2500km']:.3f}")
    if result.best_checkpoint:
        out.print(f"best checkpoint {result.best_checkpoint}")
