"""``geotool models``: the trained models in the database."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out, uncut_table
from geotool.db.engine import get_engine

app = typer.Typer(help="List and inspect trained models.\n\nExample: geotool models list",
                  no_args_is_help=True)


@app.command("list")
@friendly_errors
def list_(database_url: DatabaseUrlOption = None) -> None:
    """The models with their family, set (or dataset), backbone, status and best validation
    loss.

    Example: geotool models list
    """
    from geotool.learn.registry import list_models

    table = uncut_table("name", "family", "set / dataset", "backbone", "classes / concepts",
                        "status", "best val loss", "coarsest acc / 750 km", "updated")
    for m in list_models(get_engine(database_url)):
        metrics = m.metrics or {}
        if m.family == "align":
            where = str(m.params.get("dataset", "-")) + ("" if m.dataset_id else " (gone)")
            size, key = f"{len(m.concepts or [])} concepts", "acc_750km"
        else:
            where = (m.set_name or "-") + ("" if m.set_id else " (rebuilt/gone)")
            size, key = "/".join(map(str, m.n_classes)), f"acc_l{len(m.n_classes) - 1}"
        table.add_row(m.name, m.family, where, m.backbone, size, m.status,
                      f"{metrics['loss']:.4f}" if "loss" in metrics else "-",
                      f"{metrics[key]:.3f}" if key in metrics else "-",
                      str(m.updated_at)[:19])
    out.print(table)


@app.command("show")
@friendly_errors
def show(
    name: Annotated[str, typer.Argument(help="Name of the model.")],
    database_url: DatabaseUrlOption = None,
) -> None:
    """A model's set and classes (or dataset and concepts), checkpoints, best metrics and
    configuration.

    Example: geotool models show m1
    """
    from geotool.learn.registry import get_model, validation_curve

    with get_engine(database_url).connect() as conn:
        m = get_model(conn, name)
        curve = validation_curve(conn, m.id)
    if m.family == "align":
        out.print(f"[bold]{m.name}[/] (alignment model, {m.backbone}) on dataset "
                  f"{m.params.get('dataset')}{'' if m.dataset_id else ' — dropped since'}; "
                  f"λ = {m.params.get('concept_lambda')}, {len(m.concepts or [])} concepts: "
                  + ", ".join(m.concepts or []))
    else:
        out.print(f"[bold]{m.name}[/] ({m.backbone}) on set {m.set_name}"
                  f"{'' if m.set_id else ' — the set was rebuilt or dropped since'}; classes "
                  f"per level {m.n_classes}, fingerprint {(m.class_fingerprint or '')[:12]}")
    out.print(f"status {m.status}; best step {m.best_step}; best checkpoint "
              f"{m.checkpoint_path}; last checkpoint {m.last_checkpoint_path}")
    if m.metrics:
        out.print("best validation: " + ", ".join(
            f"{k} {v:.4g}" for k, v in sorted(m.metrics.items())))
    if curve:
        table = uncut_table("step", "epoch", "images", "val loss")
        for point in curve:
            table.add_row(str(point.step), str(point.epoch), f"{point.images_seen:,}",
                          f"{point.loss:.4f}")
        out.print(table)
    out.print("configuration: " + json.dumps(m.params, sort_keys=True))
