"""The training loss and schedule against hand computations (no database)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from geotool.learn.classifier import ddp_denominators, multi_head_loss
from geotool.learn.config import TrainConfig, load_train_config


def _hand_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, int]:
    """Sum of -log softmax at the target over labelled rows, and their count."""
    total, n = 0.0, 0
    for row, t in zip(logits, targets, strict=True):
        if t < 0:
            continue
        z = row - row.max()
        total -= z[t] - math.log(np.exp(z).sum())
        n += 1
    return total, n


def _batch(seed: int = 0) -> tuple[list[torch.Tensor], torch.Tensor]:
    rng = np.random.default_rng(seed)
    logits = [torch.tensor(rng.normal(size=(8, n)) * 3, dtype=torch.float64,
                           requires_grad=True) for n in (5, 3, 2)]
    targets = torch.tensor(np.stack([
        [0, 4, -1, 2, 2, -1, 1, 3],   # head 0: two unlabelled
        [1, -1, -1, 0, 2, 2, -1, 1],  # head 1: three unlabelled
        [-1] * 8,                     # head 2: nobody labelled
    ], axis=1))
    return logits, targets


def test_multi_head_loss_equals_hand_cross_entropy() -> None:
    logits, targets = _batch()
    loss, per_head = multi_head_loss(logits, targets)
    want = []
    for k, lg in enumerate(logits):
        total, n = _hand_cross_entropy(lg.detach().numpy(), targets[:, k].numpy())
        want.append(total / n if n else 0.0)
    # the loss runs in float32 (as under autocast): agreement to float32 rounding
    assert [float(h.detach()) for h in per_head] == pytest.approx(want, rel=1e-6)
    assert want[2] == 0.0 and float(per_head[2].detach()) == 0.0  # all-unlabelled head
    assert float(loss.detach()) == pytest.approx(sum(want), rel=1e-6)
    loss.backward()
    assert logits[2].grad is not None and torch.count_nonzero(logits[2].grad) == 0
    # an unlabelled row of a head gets no gradient from that head
    assert torch.count_nonzero(logits[0].grad[2]) == 0


def test_two_ranks_with_unequal_label_counts_average_to_the_global_batch() -> None:
    """Rank 0 holds rows 0–2 (head 0: 2 labels), rank 1 rows 3–7 (head 0: 4 labels).
    DDP averages the ranks' gradients; with ddp_denominators that average is the gradient
    of the global batch's loss, and the mean of the ranks' losses is its loss."""
    logits, targets = _batch(1)
    global_loss, _ = multi_head_loss(logits, targets)
    global_grads = torch.autograd.grad(global_loss, logits)
    world = 2
    slices = [slice(0, 3), slice(3, 8)]
    counts = (targets >= 0).sum(0)
    assert [int((targets[s, 0] >= 0).sum()) for s in slices] == [2, 4]
    den = ddp_denominators(counts, world)
    rank_losses, rank_grads = [], []
    for s in slices:
        part = [lg.detach()[s].clone().requires_grad_(True) for lg in logits]
        loss_r, _ = multi_head_loss(part, targets[s], den)
        rank_losses.append(float(loss_r.detach()))
        rank_grads.append(torch.autograd.grad(loss_r, part))
    assert sum(rank_losses) / world == pytest.approx(float(global_loss.detach()), rel=1e-6)
    for k in range(3):
        averaged = torch.cat([g[k] for g in rank_grads]) / world
        assert torch.allclose(averaged, global_grads[k], rtol=1e-5, atol=1e-7)
    # what dividing by each rank's own count would give instead: not the global gradient
    own = [multi_head_loss([lg.detach()[s] for lg in logits], targets[s])[0]
           for s in slices]
    assert float(sum(own)) / world != pytest.approx(float(global_loss.detach()), rel=1e-3)


def test_sgdr_three_cycles_per_epoch() -> None:
    """Appendix C: one SGDR cycle three times per epoch; restarts land exactly on the
    thirds of every epoch, also after many epochs (exact fractions, no float drift)."""
    cfg = TrainConfig(name="x", partitions="p", backbone="small_cnn", lr_schedule="sgdr",
                      lr=0.03, lr_min=0.0, sgdr_period=1 / 3, sgdr_mult=1)
    cfg.validate()
    spe = 3000  # steps per epoch (divisible by 3: the restarts fall on steps)
    for epoch in (0, 1, 9):
        for third in range(3):
            start = third * spe // 3
            assert cfg.lr_at(epoch, start / spe) == pytest.approx(0.03, rel=1e-12)
        # half-way through a cycle: half the learning rate
        assert cfg.lr_at(epoch, (spe // 6) / spe) == pytest.approx(0.015, rel=1e-9)
        # the last step of a cycle is close to lr_min
        assert cfg.lr_at(epoch, (spe // 3 - 1) / spe) < 1e-6
    # "1/3" in a config file (and on the command line) is that period
    assert load_train_config(None, sgdr_period="1/3").sgdr_period == pytest.approx(1 / 3)
    with pytest.raises(Exception, match="sgdr_period must be positive"):
        TrainConfig(name="x", partitions="p", backbone="small_cnn", lr_schedule="sgdr",
                    sgdr_period=0).validate()


def test_country_configs_follow_appendix_c() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "training" / "configs"
    for name in ("countries_resnet50.toml", "countries_efficientnet_b4.toml"):
        cfg = load_train_config(root / name, name="x")
        assert (cfg.batch_size, cfg.epochs, cfg.lr_schedule, cfg.sgdr_mult) == \
            (128, 10, "sgdr", 1)
        assert cfg.sgdr_period == pytest.approx(1 / 3)
        assert cfg.validate_every_images == 4000 * 128
