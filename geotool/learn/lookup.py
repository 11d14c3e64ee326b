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
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geotool.db import sqlfiles
from geotool.errors import GeotoolError
from geotool.learn.classes import SetClasses, check_same_classes, read_set_classes

if TYPE_CHECKING:  # torch is imported only by what loads a model, not by evaluate/export
    from geotool.learn.checkpoint import LoadedModel


@dataclass(frozen=True)
class ModelRow:
    """A ``models`` row with its partitioning set's name."""

    id: int
    name: str
    set_id: int | None
    set_name: str | None
    checkpoint_path: Path | None


def find_model(conn: Connection, name: str) -> ModelRow:
    """The ``models`` row called ``name``, or an error listing the known models."""
    row = conn.execute(sa.text(
        "SELECT m.id, m.name, m.set_id, s.name AS set_name, m.checkpoint_path "
        "FROM models m LEFT JOIN partitioning_sets s ON s.id = m.set_id "
        "WHERE m.name = :name"), {"name": name}).first()
    if row is None:
        known = conn.execute(sa.text("SELECT name FROM models ORDER BY name")).scalars().all()
        hint = f"known models: {', '.join(known)}" if known else "no model is trained yet"
        raise GeotoolError(f"no model named {name!r} ({hint}); `geotool train` makes one")
    path = Path(row.checkpoint_path) if row.checkpoint_path else None
    return ModelRow(int(row.id), row.name, row.set_id, row.set_name, path)


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
