"""Two processes under torchrun (gloo, CPU) end with the weights of one process trained on
the same global batch; only rank 0 writes.

The backbone is ``small_cnn_gn`` (GroupNorm): with BatchNorm each CPU rank normalises
with the statistics of its own half batch (PyTorch's SyncBatchNorm is GPU-only, and
geotool uses it on CUDA), which moves the weights by up to 0.02 after 4 steps — a
different computation, not a rounding difference. Each rank's loss is divided by the
global count of labels, so the averaged gradients are the global batch's. What remains
is float32 rounding: the all-reduce sums the two halves' gradients in another order
than one process does.
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
from support.learn_planet import planet_database, small

from geotool.learn.checkpoint import read_checkpoint
from geotool.learn.train import TrainParams, train

planet = pytest.fixture(scope="module")(planet_database)
TESTS = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_torchrun_two_processes_match_one(planet: tuple[str, Engine, Path],
                                          tmp_path: Path) -> None:
    url, engine, _ = planet
    one = train(engine, TrainParams(small(tmp_path / "one", name="one", epochs=1, max_steps=4,
                              backbone="small_cnn_gn",
                              validate_every_images=10**9, checkpoint_every_steps=2)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone",
             "--nproc_per_node", "2", str(TESTS / "support" / "ddp_train_script.py"), url,
             str(tmp_path / "two"), "two"],
            env=env, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"torchrun did not finish: {str(exc.stderr)[-3000:]}")
    assert proc.returncode == 0, proc.stderr[:6000]
    a = read_checkpoint(one.last_checkpoint)["model"]
    b = read_checkpoint(tmp_path / "two" / "ck" / "last.pt")["model"]
    assert a.keys() == b.keys()
    worst = max(float((a[k].double() - b[k].double()).abs().max()) for k in a
                if a[k].is_floating_point())
    assert worst < 1e-6, worst  # measured 1.5e-8
    assert any(not torch.equal(a[k], b[k]) for k in a) or worst == 0.0
    rank0 = (tmp_path / "two" / "writes_rank0.txt").read_text().splitlines()
    rank1 = (tmp_path / "two" / "writes_rank1.txt").read_text().splitlines()
    assert rank1 == []
    assert any(line.startswith("checkpoint") for line in rank0)
    assert any(line.startswith("sql INSERT") for line in rank0)
    with engine.connect() as conn:
        runs = conn.execute(sa.text(
            "SELECT count(*) FROM runs WHERE stage = 'train' AND params->>'name' = 'two' "
            "AND (params->>'world_size')::int = 2")).scalar_one()
        steps = [r[0] for r in conn.execute(sa.text(
            "SELECT DISTINCT step FROM training_metrics t JOIN models m ON m.id = t.model_id "
            "WHERE m.name = 'two' ORDER BY step"))]
    assert runs == 1
    assert steps == [2, 4]
