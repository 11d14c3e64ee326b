"""Training configuration: defaults < TOML file < overrides, the schedules, every shipped
config file loads."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from geotool.errors import GeotoolError
from geotool.learn.config import TrainConfig, load_train_config

ROOT = Path(__file__).resolve().parents[2]


def test_layers_and_types(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('partitions = "a"\n[optim]\nepochs = 4\nlr = 0.1\n'
                    '[build]\nscheme = "semantic"\n')
    cfg = load_train_config(path, lr=0.2, name="m", backbone=None)
    assert (cfg.partitions, cfg.epochs, cfg.lr, cfg.name) == ("a", 4, 0.2, "m")
    assert cfg.backbone == "resnet50" and cfg.batch_size == 200  # the paper's defaults
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    path.write_text("[optim]\nepochs = 'many'\n")
    with pytest.raises(GeotoolError, match="epochs = 'many' has the wrong type"):
        load_train_config(path)
    path.write_text("[optim]\nepoch = 3\n")
    with pytest.raises(GeotoolError, match="unknown training setting 'epoch'"):
        load_train_config(path)
    with pytest.raises(GeotoolError, match="does not exist"):
        load_train_config(tmp_path / "none.toml")
    with pytest.raises(GeotoolError, match="--partitions"):
        load_train_config(None, name="m").validate()


def test_paper_schedule_and_sgdr() -> None:
    cfg = TrainConfig()
    # × 0.5 after epochs 3, 6, 9 and every epoch from 12 (0-based epoch index)
    expected = [0.01] * 3 + [0.005] * 3 + [0.0025] * 3 + [0.00125] * 3 + [
        0.000625, 0.0003125, 0.00015625]
    assert [cfg.lr_at(e) for e in range(15)] == pytest.approx(expected)
    sgdr = TrainConfig(lr_schedule="sgdr", lr=0.1, sgdr_period=1, sgdr_mult=2)
    assert sgdr.lr_at(0) == pytest.approx(0.1)
    assert sgdr.lr_at(0, 0.5) == pytest.approx(0.05)
    assert sgdr.lr_at(1) == pytest.approx(0.1)  # restart; next cycle is 2 epochs
    assert sgdr.lr_at(2) == pytest.approx(0.05)
    assert sgdr.lr_at(2, 0.5) == pytest.approx(0.1 * (1 + math.cos(math.pi * 0.75)) / 2)
    assert sgdr.lr_at(3) == pytest.approx(0.1)


@pytest.mark.parametrize("path", sorted((ROOT / "training").rglob("*.toml")),
                         ids=lambda p: p.name)
def test_shipped_configs_load(path: Path) -> None:
    family = load_train_config(path).family
    cfg = load_train_config(path, name="m", **({"dataset": "d"} if family == "align"
                                               else {"partitions": "p"}))
    cfg.validate()
    if "reference_code" in path.name:
        assert (cfg.batch_size, cfg.epochs, cfg.amp) == (128, 20, "fp16")
        assert cfg.lr_milestones == [4, 8, 12, 13, 14, 15, 17, 19, 20]
        assert cfg.validate_every_images == 4000 * 128


def test_alignment_runs_take_geoclips_recipe_where_nothing_is_given() -> None:
    cfg = load_train_config(None, family="align", dataset="d", name="m", lr=1e-3)
    assert (cfg.optimizer, cfg.lr, cfg.weight_decay, cfg.batch_size, cfg.epochs) == (
        "adam", 1e-3, 1e-6, 512, 10)
    assert cfg.lr_at(0) == pytest.approx(1e-3) and cfg.lr_at(2) == pytest.approx(1e-3 * 0.87 ** 2)
    assert load_train_config(None, partitions="p", name="m").optimizer == "sgd"
    with pytest.raises(GeotoolError, match="family must be one of"):
        load_train_config(None, family="gan", name="m").validate()
