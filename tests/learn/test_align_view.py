"""The alignment family's prediction crops follow the checkpoint's view: the shortest edge
its training validated with (``val_resize``), as the classifier's prediction does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from geotool.learn.align.predict import LoadedAlign, align_transform
from geotool.learn.registry import ModelRecord


def _loaded(config: dict[str, Any], size: int = 224) -> LoadedAlign:
    row = ModelRecord(1, "a", None, None, "tiny", "trained", "best.pt", None, None, None,
                      None, {}, None, None, [], family="align")
    return LoadedAlign(row, torch.nn.Identity(), {"config": config}, Path("best.pt"), "",
                       size, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def test_resize_is_the_training_view() -> None:
    assert align_transform(_loaded({"val_resize": 288}), 1, None).resize == 288
    assert align_transform(_loaded({}), 1, None).resize == 256  # 224 × 256/224
    assert align_transform(_loaded({"val_resize": 288}), 5, 300).resize == 300  # --resize
