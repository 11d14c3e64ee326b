"""Run by tests/learn/test_ddp.py under ``torchrun``: every rank trains the same config.

Each rank notes what it writes (checkpoint files, and database statements that change
data) in ``writes_rank<r>.txt`` beside the checkpoints, so the test can check that only
rank 0 wrote.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for support.*

import geotool.learn.train as train_module  # noqa: E402
from support.learn_planet import small  # noqa: E402


def main() -> None:
    url, tmp, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    rank = int(os.environ["RANK"])
    log = tmp / f"writes_rank{rank}.txt"
    tmp.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().split()[0].upper() in {"INSERT", "UPDATE", "DELETE", "COPY"}:
            with open(log, "a") as fh:
                fh.write("sql " + statement.split()[0] + "\n")

    original = train_module.save_checkpoint

    def save(path: Path, payload: dict[str, Any]) -> None:
        with open(log, "a") as fh:
            fh.write(f"checkpoint {path}\n")
        original(path, payload)

    train_module.save_checkpoint = save  # type: ignore[assignment]
    train_module.train(engine, train_module.TrainParams(small(tmp, name=name, epochs=1, max_steps=4,
                                     backbone="small_cnn_gn",
                                     validate_every_images=10**9,
                                     checkpoint_every_steps=2)))


if __name__ == "__main__":
    main()
