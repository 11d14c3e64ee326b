"""The alignment family through the shared training loop, on the tiny planet.

Records (models row with family, dataset and concepts; metrics; the run), the checkpoint
(config and concept names; ``load_align_checkpoint``), ``models list/show``, bad images,
the input errors, and a SIGKILL mid-epoch then ``--resume`` that ends bit-exact with an
unbroken run (CPU, one thread; the GPS queue travels in the checkpoint).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import torch
from sqlalchemy.engine import Engine
from support.align_configs import small_align
from support.eventually import eventually
from support.learn_planet import planet_database

from geotool.errors import GeotoolError
from geotool.learn.align.model import AlignModel, load_align_checkpoint
from geotool.learn.checkpoint import load_model, read_checkpoint
from geotool.learn.config import load_train_config
from geotool.learn.train import TrainParams, train

TESTS = Path(__file__).resolve().parents[1]
planet = pytest.fixture(scope="module")(planet_database)


def test_an_alignment_model_trains_and_is_recorded(planet: tuple[str, Engine, Path],
                                                   tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from geotool.cli.app import app

    url, engine, _ = planet
    train(engine, TrainParams(small_align(tmp_path, name="al", epochs=3)))
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT family, dataset_id, concepts, status, set_id, checkpoint_path, metrics "
            "FROM models WHERE name = 'al'")).one()
        losses = [r[0] for r in conn.execute(sa.text(
            "SELECT value FROM training_metrics t JOIN models m ON m.id = t.model_id "
            "WHERE m.name = 'al' AND split = 'val' AND metric = 'loss_nce' ORDER BY step"))]
        dataset = conn.execute(sa.text("SELECT id FROM datasets WHERE name = 'tiny'")
                               ).scalar_one()
    assert (row.family, row.dataset_id, row.status, row.set_id) == ("align", dataset, "done",
                                                                   None)
    assert row.concepts[0] == "sky" and len(row.concepts) == 18
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    assert {"acc_25km", "acc_750km", "loss_concept", "logit_scale"} <= set(row.metrics)
    model, meta = load_align_checkpoint(row.checkpoint_path)
    assert isinstance(model, AlignModel) and meta["family"] == "align"
    assert meta["concept_names"] == row.concepts and meta["config"]["dataset"] == "tiny"
    x = torch.rand(2, 3, 32, 32)
    emb = model.encode_image(x)
    assert torch.allclose(emb.norm(dim=1), torch.ones(2))
    with torch.no_grad():
        scores = model.concept_scores(model.encode_gps(torch.tensor([[1.0, 2.0]])))
    assert scores.shape == (1, 18) and float(scores.sum()) == pytest.approx(1.0)
    with pytest.raises(GeotoolError, match="alignment model"):
        load_model(Path(row.checkpoint_path))
    runner = CliRunner(env={"COLUMNS": "200"})
    listed = runner.invoke(app, ["models", "list", "--database-url", url])
    assert listed.exit_code == 0 and "align" in listed.output and "18 concepts" in listed.output
    shown = runner.invoke(app, ["models", "show", "al", "--database-url", url])
    assert shown.exit_code == 0 and "alignment model" in shown.output
    assert "tower" in shown.output


def test_alignment_input_errors_are_one_line(planet: tuple[str, Engine, Path],
                                            tmp_path: Path) -> None:
    _, engine, _ = planet
    for overrides, named in (
            ({"partitions": "tiny"}, "give --dataset, not --partitions"),
            ({"dataset": ""}, "--dataset NAME"),
            ({"dataset": "nope"}, "no dataset named 'nope'"),
            ({"concept_vocab": "nonsense"}, "unknown concept vocabulary 'nonsense'"),
            ({"batch_size": 100000}, "exceeds the 167 train photos"),
            ({"gps_init": "geoclip"}, "does not fit it"),
            ({"concept_vocab": "world", "concept_supervision": 0.5}, "has none")):
        with pytest.raises(GeotoolError, match=named) as info:
            train(engine, TrainParams(small_align(tmp_path, name="bad", **overrides)))
        assert "\n" not in str(info.value)


def test_cli_trains_an_alignment_model(planet: tuple[str, Engine, Path],
                                       tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from geotool.cli.app import app

    url, _, _ = planet
    config = tmp_path / "a.toml"
    config.write_text('family = "align"\nbackbone = "small_cnn"\nimage_size = 32\n'
                      'pretrained = false\nembed_dim = 16\nprojection_hidden = 16\n'
                      'gps_hidden = 16\ngps_depth = 1\nqueue_size = 32\nbatch_size = 16\n'
                      'concept_vocab = "planet"\nworkers = 0\n')
    args = ["train", "--config", str(config), "--dataset", "tiny", "--name", "cli_al",
            "--checkpoint-dir", str(tmp_path / "ck"), "--max-steps", "2",
            "--database-url", url]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 steps" in result.output and "(InfoNCE" in result.output
    wrong = CliRunner().invoke(app, [*args[:5], "--partitions", "tiny", *args[5:]])
    assert wrong.exit_code == 1 and "give --dataset, not --partitions" in wrong.output


def test_bad_images_are_skipped_and_recorded(planet: tuple[str, Engine, Path],
                                             tmp_path: Path) -> None:
    _, engine, _ = planet
    with engine.connect() as conn:
        image_id, path = conn.execute(sa.text(
            "SELECT i.id, i.path FROM images i JOIN datasets d ON d.id = i.dataset_id "
            "WHERE d.name = 'tiny' AND i.split = 'train' ORDER BY i.id LIMIT 1")).one()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE images SET path = :p WHERE id = :i"),
                     {"p": str(tmp_path / "gone.jpg"), "i": image_id})
    try:
        result = train(engine, TrainParams(small_align(tmp_path, name="al_bad", epochs=1,
                                                       max_bad_share=0.05)))
        with engine.connect() as conn:
            reasons = dict(conn.execute(sa.text(
                "SELECT image_id, reason FROM bad_images WHERE run_id = :r"),
                {"r": result.run_id}).all())
        assert reasons == {image_id: f"missing file {tmp_path / 'gone.jpg'}"}
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE images SET path = :p WHERE id = :i"),
                         {"p": path, "i": image_id})


KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {tests!r})
import sqlalchemy as sa
from geotool.progress import NullProgress
from geotool.learn.train import TrainParams, train
from support.align_configs import small_align
from pathlib import Path

class KillAt(NullProgress):
    def update(self, **fields):
        if fields.get("step") == {kill_at}:
            os.kill(os.getpid(), signal.SIGKILL)

engine = sa.create_engine({url!r})
train(engine, TrainParams(small_align(Path({tmp!r}), name="al_killed")), progress=KillAt())
"""


@pytest.mark.slow  # two short trainings and a subprocess
def test_sigkill_mid_epoch_then_resume_is_bit_exact(planet: tuple[str, Engine, Path],
                                                    tmp_path: Path) -> None:
    url, engine, _ = planet
    torch.set_num_threads(1)
    whole = train(engine, TrainParams(small_align(tmp_path / "w", name="al_whole")))
    # 10 steps per epoch, checkpoints every 3: killed at 14, the last checkpoint is 12
    script = KILL_SCRIPT.format(tests=str(TESTS), url=url, tmp=str(tmp_path / "k"),
                                kill_at=14)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr

    def status() -> str:
        with engine.connect() as conn:
            return str(conn.execute(sa.text(
                "SELECT r.status FROM runs_status r JOIN models m ON m.run_id = r.id "
                "WHERE m.name = 'al_killed'")).scalar_one())

    assert eventually(status, "died") == "died"
    kept = read_checkpoint(tmp_path / "k" / "ck" / "last.pt")
    assert kept["state"]["step"] == 12 and kept["state"]["family"]["queue"]["filled"] == 48
    resumed = train(engine, TrainParams(load_train_config(None, name="al_killed"), resume=True))
    assert (resumed.resumed_from_step, resumed.steps) == (12, whole.steps)
    a = read_checkpoint(whole.last_checkpoint)
    b = read_checkpoint(resumed.last_checkpoint)
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert torch.equal(a["state"]["family"]["queue"]["buffer"],
                       b["state"]["family"]["queue"]["buffer"])
    assert resumed.best_metrics == pytest.approx(whole.best_metrics)
