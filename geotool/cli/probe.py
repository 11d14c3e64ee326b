"""``geotool probe``: a linear probe on an alignment model's frozen embeddings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out
from geotool.cli.progress import RichProgress
from geotool.db.engine import get_engine


@friendly_errors
def probe(
    model: Annotated[list[str], typer.Option(
        "--model", help="Alignment model; repeat to compare (e.g. λ = 0 and λ > 0).")],
    target: Annotated[str, typer.Option(
        "--target", help="country (geocoded address), climate (synthetic planet) or csv "
        "(--target-file).")],
    side: Annotated[str, typer.Option(
        "--side", help="gps: embeddings of the photos' coordinates; image: of the photos.")
    ] = "gps",
    dataset: Annotated[str | None, typer.Option(
        "--dataset", help="Dataset (default: the model's training dataset).",
        show_default=False)] = None,
    method: Annotated[str, typer.Option(
        "--method", help="ridge (closed form; classes one-hot) or logistic.")] = "ridge",
    alpha: Annotated[float, typer.Option("--alpha", help="L2 penalty of the probe.")] = 1.0,
    train_split: Annotated[str, typer.Option("--train-split", help="Fitted on.")] = "train",
    test_split: Annotated[str, typer.Option("--test-split", help="Scored on.")] = "test",
    target_file: Annotated[Path | None, typer.Option(
        "--target-file", help="With --target csv: id,value (photo external id; numbers "
        "are regressed, anything else classified).", show_default=False)] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    database_url: DatabaseUrlOption = None,
) -> None:
    """Fit a linear probe on frozen GPS (or image) embeddings on one split and score it on
    a held-out split: accuracy for classes (beside the most frequent class), R² for numbers.

    Example: geotool probe --model align_l0 --model align_l05 --target climate
    """
    from geotool.learn.align.probe import ProbeParams
    from geotool.learn.align.probe import probe as run_probe

    engine = get_engine(database_url)
    table = Table("model", "target", "side", "method", "α", "train", "test", "accuracy",
                  "most frequent", "R²")
    for name in model:
        params = ProbeParams(name, target, side, dataset, method, alpha, train_split,
                             test_split, str(target_file) if target_file else None,
                             device=device)
        with RichProgress(unit=" photos/s") as progress:
            s = run_probe(engine, params, progress=progress)
        pct = {k: f"{v:.1%}" for k, v in s.scores.items() if k != "r2"}
        table.add_row(s.model, s.target, s.side, s.method, f"{s.alpha:g}", str(s.n_train),
                      str(s.n_test), pct.get("accuracy", "–"), pct.get("most_frequent", "–"),
                      f"{s.scores['r2']:.3f}" if "r2" in s.scores else "–")
    out.print(table)
