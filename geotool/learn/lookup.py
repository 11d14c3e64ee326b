"""Find a trained model by name: its ``models`` row, checkpoint and current classes.

The one place that turns a model name into a checkpoint path (``models.checkpoint_path``),
so every command that uses a trained model (predict, predict-image, evaluate, concepts)
resolves names the same way and checks the same things: the row exists, the checkpoint
loads, and the model's partitioning set still has the classes it was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.engine import Connection, Engine

from geotool.db import sqlfiles
from geotool.errors import GeotoolError
from geotool.learn.classes import SetClasses, check_same_classes, read_set_classes
from geotool.learn.registry import ModelRecord, get_model

if TYPE_CHECKING:  # torch is imported only by what loads a model, not by evaluate/export
    from geotool.learn.checkpoint import LoadedModel


@dataclass
class ReadyModel:
    """A model ready to predict with: its row, weights, current classes and ancestors."""

    row: ModelRecord
    loaded: LoadedModel
    classes: SetClasses  # the set's classes now (with cell ids), checked against the model's
    ancestors: np.ndarray  # [levels, n_fine] class index of each fine class's ancestor


def read_ancestor_matrix(conn: Connection, set_name: str, n_classes: list[int]) -> np.ndarray:
    """``[levels, n_fine]``: the class index of each fine class's ancestor at each level
    (row 0 the identity, -1 where the fine class has none), from ``cell_ancestors``."""
    out = np.full((len(n_classes), n_classes[0]), -1, dtype=np.int64)
    out[0] = np.arange(n_classes[0])
    rows = sqlfiles.run(conn, "learn/predict_ancestors.sql", set_name=set_name)
    assert rows is not None
    for row in rows:
        level, fine, coarse = int(row.level), int(row.fine_class), row.ancestor_class
        if coarse is not None and 0 < level < len(n_classes):
            out[level, fine] = int(coarse)
    return out


def trained_model(conn: Connection, name: str) -> ModelRecord:
    """Model ``name``'s row, or a clear error when there is no such model or it has no
    checkpoint yet (``learn`` and ``explain`` both find their models here)."""
    record = get_model(conn, name)
    if not record.checkpoint_path:
        raise GeotoolError(f"model {name!r} has no checkpoint yet (status "
                           f"{record.status}); finish its training with `geotool train "
                           f"--name {name} --resume`")
    return record


def _checked_record(conn: Connection, name: str) -> tuple[ModelRecord, SetClasses]:
    """Model ``name``'s row and its set's classes as they are now, or a clear error when it
    has no checkpoint yet or its set no longer exists."""
    record = trained_model(conn, name)
    set_name = record.set_name or ""
    try:
        current = read_set_classes(conn, set_name)
    except GeotoolError:
        raise GeotoolError(
            f"model {name!r} was trained on partitioning set {set_name!r}, which no longer "
            "exists; rebuild it with the parameters the model was trained on "
            f"(`geotool models show {name}` lists them)") from None
    return record, current


def _load_checked(record: ModelRecord, current: SetClasses, device: str) -> LoadedModel:
    """The record's best checkpoint, refused when its classes differ from ``current``."""
    from geotool.learn.checkpoint import load_model

    assert record.checkpoint_path is not None
    loaded = load_model(Path(record.checkpoint_path), device)
    check_same_classes(record.name, loaded.classes, current)
    return loaded


def ready_model(engine: Engine, name: str, device: str = "cpu") -> ReadyModel:
    """Resolve ``name``, load its checkpoint, and check its set's classes are unchanged."""
    with engine.connect() as conn:
        record, current = _checked_record(conn, name)
        ancestors = read_ancestor_matrix(conn, current.set_name, current.n_classes)
    return ReadyModel(record, _load_checked(record, current, device), current, ancestors)


def load_model_by_name(engine: Engine, name: str,
                       device: str = "cpu") -> LoadedModel:
    """The best checkpoint of model ``name``, checked against its set's current classes.

    Raises :class:`GeotoolError` when the model has no checkpoint yet, its file is gone,
    or the set was rebuilt with other classes (or dropped) since training.
    """
    with engine.connect() as conn:
        record, current = _checked_record(conn, name)
    return _load_checked(record, current, device)
