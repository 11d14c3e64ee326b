"""Training on a tiny synthetic planet: loss falls, records are written, resume is exact.

The planet (tests/learn_planet.py) is built once per module into its own database; each
test trains ``small_cnn`` on 32 px photos for a few steps on the CPU.
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import torch
from sqlalchemy.engine import Engine
from support.eventually import eventually
from support.learn_planet import planet_database, small

from geotool.errors import GeotoolError
from geotool.learn.checkpoint import read_checkpoint
from geotool.learn.config import load_train_config
from geotool.learn.lookup import load_model_by_name
from geotool.learn.train import TrainParams, train
from geotool.progress import NullProgress

TESTS = Path(__file__).resolve().parents[1]
planet = pytest.fixture(scope="module")(planet_database)


def test_validation_loss_falls_and_records_are_written(planet: tuple[str, Engine, Path],
                                                       tmp_path: Path) -> None:
    _, engine, _ = planet
    result = train(engine, TrainParams(small(tmp_path, name="falls")))
    with engine.connect() as conn:
        losses = [r[0] for r in conn.execute(sa.text(
            "SELECT value FROM training_metrics t JOIN models m ON m.id = t.model_id "
            "WHERE m.name = 'falls' AND split = 'val' AND metric = 'loss' ORDER BY step"))]
        row = conn.execute(sa.text(
            "SELECT status, checkpoint_path, last_checkpoint_path, set_name, "
            "class_fingerprint, metrics, best_step FROM models WHERE name = 'falls'")).one()
        train_rows = conn.execute(sa.text(
            "SELECT count(*) FROM training_metrics t JOIN models m ON m.id = t.model_id "
            "WHERE m.name = 'falls' AND split = 'train' AND metric = 'loss'")).scalar_one()
        run = conn.execute(sa.text("SELECT stage, status FROM runs_status WHERE id = :i"),
                           {"i": result.run_id}).one()
    assert len(losses) == 3
    assert losses[0] > losses[1] > losses[2], losses  # measured 5.39, 5.05, 4.70
    assert losses[-1] < losses[0] * 0.95, losses
    assert row.status == "done" and run == ("train", "done")
    assert row.checkpoint_path == str(tmp_path / "ck" / "best.pt")
    assert row.last_checkpoint_path == str(tmp_path / "ck" / "last.pt")
    assert row.metrics["loss"] == pytest.approx(min(losses))
    assert train_rows >= 3
    loaded = load_model_by_name(engine, "falls")
    assert loaded.classes.fingerprint == row.class_fingerprint
    assert loaded.image_size == 32
    assert "state" not in read_checkpoint(Path(row.checkpoint_path))


def test_validation_km_ladder_equals_numpy_over_predicted_classes(
        planet: tuple[str, Engine, Path], tmp_path: Path) -> None:
    """The km ladder training records at its last validation equals NumPy over the same
    weights (last.pt) classifying the val photos in prediction's view (one centre crop):
    argmax of the finest head, that class's coordinate, haversine to the photo. Also: the
    checkpoint records the normalisation training used."""
    import numpy as np

    from geotool.learn.checkpoint import load_model
    from geotool.learn.inference import CropTransform, default_resize, read_image
    from geotool.learn.labels import read_label_arrays

    _, engine, _ = planet
    result = train(engine, TrainParams(small(tmp_path, name="km_ladder", epochs=1)))
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.text(
            "SELECT metric, value FROM training_metrics t JOIN models m ON m.id = t.model_id "
            "WHERE m.name = 'km_ladder' AND split = 'val' AND step = :s"),
            {"s": result.steps}).all())
        labels = read_label_arrays(conn, "tiny", "val", 3)
    loaded = load_model(result.last_checkpoint)
    assert loaded.config["normalize"] == {"mean": [0.485, 0.456, 0.406],
                                          "std": [0.229, 0.224, 0.225]}
    view = CropTransform(32, default_resize(32), crops=1)
    x = torch.cat([view(read_image(src.path)) for src in labels.sources])
    with torch.no_grad():
        pred = loaded.model(x)[0].argmax(1).numpy()
    fine = loaded.classes.levels[0]
    p1, p2 = np.radians(labels.lat), np.radians(fine.lat[pred])
    a = (np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2)
         * np.sin(np.radians(fine.lon[pred] - labels.lon) / 2) ** 2)
    km = 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    assert stored["images"] == len(km) > 20
    for r in (1, 25, 200, 750, 2500):
        assert stored[f"acc_{r}km"] == pytest.approx(np.mean(km <= r), abs=1e-12), r
    assert stored["mean_km"] == pytest.approx(km.mean(), rel=1e-9)
    labelled = labels.classes[:, 0] >= 0
    assert stored["acc_l0"] == pytest.approx(
        np.mean(pred[labelled] == labels.classes[labelled, 0]), abs=1e-12)


@pytest.mark.parametrize(("setting", "named"), [
    ({"max_steps": -1}, "max_steps must be 0"), ({"image_size": -32}, "image_size must be 0")])
def test_negative_limits_are_refused(setting: dict[str, int], named: str) -> None:
    """A negative --max-steps used to run no step and still save a 'finished' model."""
    config = load_train_config(None, partitions="tiny", name="neg", **setting)
    with pytest.raises(GeotoolError, match=named):
        config.validate()


def test_validation_sees_the_view_prediction_and_concepts_see() -> None:
    """One shortest edge for the validation view, prediction (--crops 1) and the concept
    pass: round(256/224 × size). Training used ceil (74 px at 64, prediction 73)."""
    from geotool.explain.preprocess import input_geometry
    from geotool.learn.inference import default_resize
    from geotool.learn.train import _specs

    for size in (32, 64, 96, 224, 380):
        config = load_train_config(None, partitions="p", name="n", image_size=size)
        _, val = _specs(config)
        assert val.resize == default_resize(size) == input_geometry(size, {}).resize
    assert default_resize(64) == 73 and default_resize(224) == 256


def test_bad_input_is_refused(planet: tuple[str, Engine, Path], tmp_path: Path) -> None:
    _, engine, _ = planet
    with pytest.raises(GeotoolError, match="unknown backbone 'resnet5'.*resnet50"):
        train(engine, TrainParams(small(tmp_path, name="x", backbone="resnet5")))
    with pytest.raises(GeotoolError, match="--partitions 'nope'"):
        train(engine, TrainParams(small(tmp_path, name="x", partitions="nope")))
    with pytest.raises(GeotoolError, match="exceeds"):
        train(engine, TrainParams(small(tmp_path, name="x", batch_size=100000)))
    train(engine, TrainParams(small(tmp_path, name="dup", epochs=1, max_steps=1)))
    with pytest.raises(GeotoolError, match="exists.*--resume.*--force"):
        train(engine, TrainParams(small(tmp_path, name="dup", epochs=1, max_steps=1)))
    train(engine, TrainParams(small(tmp_path, name="dup", epochs=1, max_steps=1), force=True))
    if importlib.util.find_spec("tensorboard") is None:
        with pytest.raises(GeotoolError, match="tensorboard"):
            train(engine, TrainParams(small(tmp_path, name="tb", tensorboard=str(tmp_path / "tb"))))
    with pytest.raises(GeotoolError, match="nothing to resume"):
        train(engine, TrainParams(small(tmp_path, name="fresh"), resume=True))


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(
        planet: tuple[str, Engine, Path], tmp_path: Path) -> None:
    _, engine, _ = planet
    with pytest.raises(GeotoolError, match=r"loss became (nan|inf) at step \d+"):
        train(engine, TrainParams(small(tmp_path, name="nan", lr=1e12, momentum=0.0)))
    with engine.connect() as conn:
        status = conn.execute(sa.text("SELECT status FROM models WHERE name = 'nan'")
                              ).scalar_one()
    assert status == "failed"


KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {tests!r})
import sqlalchemy as sa
from geotool.progress import NullProgress
from geotool.learn.train import TrainParams, train
from support.learn_planet import small
from pathlib import Path

class KillAt(NullProgress):
    def update(self, **fields):
        if fields.get("step") == {kill_at}:
            os.kill(os.getpid(), signal.SIGKILL)

engine = sa.create_engine({url!r})
train(engine, TrainParams(small(Path({tmp!r}), name="killed", workers={workers}, threads=1)),
      progress=KillAt())
"""


@pytest.mark.slow  # two trainings and a subprocess: ~45 s on the shared 2-core machine
@pytest.mark.parametrize("workers", [0, 2])
def test_sigkill_mid_epoch_then_resume_is_bit_exact(planet: tuple[str, Engine, Path],
                                                    tmp_path: Path, workers: int) -> None:
    url, engine, _ = planet
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM models WHERE name IN ('killed', 'whole')"))
    whole = train(engine, TrainParams(small(tmp_path / "w", name="whole", workers=workers,
                                            threads=1)))
    # steps per epoch: 10 with 167 labelled train images and batch 16; checkpoints every 3 steps:
    # killed at step 17 (mid second epoch), the last checkpoint is step 15
    script = KILL_SCRIPT.format(tests=str(TESTS), url=url, tmp=str(tmp_path / "k"),
                                kill_at=17, workers=workers)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr
    def status() -> str:
        with engine.connect() as conn:
            return str(conn.execute(sa.text(
                "SELECT r.status FROM runs_status r JOIN models m ON m.run_id = r.id "
                "WHERE m.name = 'killed'")).scalar_one())

    assert eventually(status, "died") == "died"
    with engine.connect() as conn:
        from geotool.learn.registry import get_model

        assert get_model(conn, "killed").status == "died"
    kept = read_checkpoint(tmp_path / "k" / "ck" / "last.pt")
    assert 0 < kept["state"]["step"] < 17
    # as in a fresh `geotool train --resume` process: PyTorch's default threads, not the
    # one the killed run was configured with (the resume must apply the stored config's)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        resumed = train(engine, TrainParams(load_train_config(None, name="killed"),
                                            resume=True))
    finally:
        torch.set_num_threads(before)
    assert resumed.resumed_from_step == kept["state"]["step"]
    assert resumed.steps == whole.steps
    a = read_checkpoint(whole.last_checkpoint)["model"]
    b = read_checkpoint(resumed.last_checkpoint)["model"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert resumed.best_metrics == pytest.approx(whole.best_metrics)
    with engine.connect() as conn:
        curves = [conn.execute(sa.text(
            "SELECT step, metric, value FROM training_metrics t JOIN models m "
            "ON m.id = t.model_id WHERE m.name = :n AND split = 'val' ORDER BY step, metric"),
            {"n": n}).all() for n in ("whole", "killed")]
    assert curves[0] == curves[1]
    assert math.isfinite(curves[0][0][2])


class _ThreadsSeen(NullProgress):
    """Records torch's compute threads at every training step."""

    def __init__(self) -> None:
        self.threads: set[int] = set()

    def update(self, **fields: Any) -> None:
        self.threads.add(torch.get_num_threads())


def test_max_steps_mid_epoch_then_resume_continues_where_it_stopped(
        planet: tuple[str, Engine, Path], tmp_path: Path) -> None:
    """--max-steps inside an epoch keeps that position; --resume goes on from it (one epoch
    of 10 steps: stopped at 4, resumed to 7, then to the end equals an unbroken run)."""
    _, engine, _ = planet
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM models WHERE name IN ('ms_whole', 'ms_cut')"))
    one_epoch = dict(epochs=1, checkpoint_every_steps=100, threads=1)
    whole = train(engine, TrainParams(small(tmp_path / "w", name="ms_whole", **one_epoch)))
    assert whole.steps == 10
    cut = train(engine, TrainParams(small(tmp_path / "c", name="ms_cut", max_steps=4, **one_epoch)))
    assert cut.steps == 4
    state = read_checkpoint(cut.last_checkpoint)["state"]
    assert (state["epoch"], state["step_in_epoch"], state["step"]) == (0, 4, 4)
    # a resume in a fresh process starts with PyTorch's default threads; the stored
    # configuration's (1) must be the ones that train (issue 17: two threads sum in
    # another order, and the resumed run drifted from the uninterrupted one)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    seen = _ThreadsSeen()
    try:
        more = train(engine, TrainParams(load_train_config(None, name="ms_cut", max_steps=7),
                                         resume=True), progress=seen)
    finally:
        torch.set_num_threads(before)
    assert seen.threads == {1}
    assert (more.resumed_from_step, more.steps) == (4, 7)
    state = read_checkpoint(more.last_checkpoint)["state"]
    assert (state["epoch"], state["step_in_epoch"], state["step"]) == (0, 7, 7)
    rest = train(engine, TrainParams(load_train_config(None, name="ms_cut"), resume=True))
    assert (rest.resumed_from_step, rest.steps) == (7, 10)
    a = read_checkpoint(whole.last_checkpoint)["model"]
    b = read_checkpoint(rest.last_checkpoint)["model"]
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_cli_train_and_models(planet: tuple[str, Engine, Path], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from geotool.cli.app import app

    url, engine, _ = planet
    config = tmp_path / "c.toml"
    config.write_text('backbone = "small_cnn"\nimage_size = 32\n[optim]\nepochs = 1\n'
                      'batch_size = 16\nlr_milestones = []\n[data]\nworkers = 0\n'
                      'validate_each_epoch = true\n')
    runner = CliRunner()
    args = ["train", "--config", str(config), "--partitions", "tiny", "--name", "cli_m",
            "--checkpoint-dir", str(tmp_path / "ck"), "--max-steps", "3",
            "--database-url", url]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "cli_m" in result.output and "3 steps" in result.output
    assert "best validation loss" in result.output
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "exists" in again.output and "Traceback" not in again.output
    listed = runner.invoke(app, ["models", "list", "--database-url", url])
    assert listed.exit_code == 0 and "cli_m" in listed.output and "done" in listed.output
    shown = runner.invoke(app, ["models", "show", "cli_m", "--database-url", url])
    assert shown.exit_code == 0, shown.output
    assert "small_cnn" in shown.output and str(tmp_path / "ck" / "best.pt") in shown.output
    missing = runner.invoke(app, ["models", "show", "nobody", "--database-url", url])
    assert missing.exit_code == 1 and "no model named 'nobody'" in missing.output
    bad = runner.invoke(app, ["train", "--partitions", "tiny", "--name", "x", "--backbone",
                              "vgg", "--database-url", url])
    assert bad.exit_code == 1 and "unknown backbone 'vgg'" in bad.output
