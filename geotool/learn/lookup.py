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
from geotool.learn.registry import ModelRow, find_model_row, get_model

find_model = find_model_row  # the name prediction code uses

if TYPE_CHECKING:  # torch is imported only by what loads a model, not by evaluate/export
    from geotool.learn.checkpoint import LoadedModel


@dataclass
class ReadyModel:
    """A model ready to predict with: its row, weights, current classes and ancestors."""

    row: ModelRow
    loaded: LoadedModel
    classes: SetClasses  # the set's classes now (with cell ids), checked against the model's
    ancestors: np.ndarray  # [levels, n_fine] class index of each fine class's ancestor


def read_ancestor_matrix(conn: Connection, set_name: str, n_classes: list[int]) -> np.ndarray:
    """``[levels, n_fine]``: the class index of each fine class's ancestor at each level
    (row 0 the identity, -1 where the fine class has none), from ``cell_ancestors``."""
    out = np.full((len(n_classes), n_classes[0]), -1, dtype=np.int64)
    out[0] = np.arange(n_classes[0])
    rows = sqlfiles.run(conn, "predict_ancestors.sql", set_name=set_name)
    assert rows is not None
    for row in rows:
        level, fine, coarse = int(row.level), int(row.fine_class), row.ancestor_class
        if coarse is not None and 0 < level < len(n_classes):
            out[level, fine] = int(coarse)
    return out


def ready_model(engine: Engine, name: str, device: str = "cpu") -> ReadyModel:
    """Resolve ``name``, load its checkpoint, and check its set's classes are unchanged."""
    from geotool.learn.checkpoint import load_model

    with engine.connect() as conn:
        row = find_model(conn, name)
        if row.checkpoint_path is None:
            raise GeotoolError(f"model {name!r} has no checkpoint yet (training did not "
                               "finish); run `geotool train` again to complete it")
        if row.set_name is None:
            raise GeotoolError(f"model {name!r}: its partitioning set was deleted; rebuild "
                               "it with the parameters the model was trained on")
        loaded = load_model(row.checkpoint_path, device=device)
        current = read_set_classes(conn, row.set_name)
        check_same_classes(name, loaded.classes, current)
        ancestors = read_ancestor_matrix(conn, row.set_name, current.n_classes)
    return ReadyModel(row, loaded, current, ancestors)


def load_model_by_name(engine: Engine, name: str,
                       device: str = "cpu") -> LoadedModel:
    """The best checkpoint of model ``name``, checked against its set's current classes.

    Raises :class:`GeotoolError` when the model has no checkpoint yet, its file is gone,
    or the set was rebuilt with other classes (or dropped) since training.
    """
    with engine.connect() as conn:
        record = get_model(conn, name)
        if not record.checkpoint_path:
            raise GeotoolError(f"model {name!r} has no checkpoint yet (status "
                               f"{record.status}); finish its training with `geotool train "
                               f"--name {name} --resume`")
        set_name = record.set_name or ""
        try:
            current = read_set_classes(conn, set_name)
        except GeotoolError:
            raise GeotoolError(
                f"model {name!r} was trained on partitioning set {set_name!r}, which no longer "
                "exists; rebuild it with the parameters the model was trained on "
                f"(`geotool models show {name}` lists them)") from None
    from geotool.learn.checkpoint import load_model

    loaded = load_model(Path(record.checkpoint_path), device)
    check_same_classes(name, loaded.classes, current)
    return loaded
