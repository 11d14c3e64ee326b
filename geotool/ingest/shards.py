"""``geotool ingest-shards``: index GeoEstimation-style msgpack shards once, so that training
can read any image at random (``geotool.learn.shards``).

A shard ``shard_<i>.msg`` is a sequence of msgpack maps ``{b"id": …, b"image": JPEG
bytes}`` (the MP-16 download of Müller-Budack et al.; images usually 320 px on the
short side). The reference training code streamed whole shards, which made every GPU
read everything and tied the epoch order to the file order. Here
:func:`ingest_shards` records, for every record whose id is an image of the dataset,
the shard file, byte offset and length in ``shard_index``; training then reads a record
by slicing a memory map of its shard
(:func:`geotool.learn.shards.read_shard_image`). Records whose id the
dataset does not know are counted and reported (with examples), never dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geotool.db import datasets
from geotool.db.copy import copy_rows
from geotool.db.runs import recorded_run
from geotool.errors import GeotoolError, InvalidValueError, MissingInputError
from geotool.progress import NO_PROGRESS, Progress

SHARD_NAME = re.compile(r"^shard_(\d+)\.msg$")


def write_shard(path: Path, records: Iterable[tuple[str, bytes]]) -> None:
    """Write ``(id, JPEG bytes)`` records the way GeoEstimation's downloader did."""
    packer = msgpack.Packer(use_bin_type=True)
    with open(path, "wb") as fh:
        for image_id, data in records:
            fh.write(packer.pack({"image": data, "id": image_id}))


def record_field(record: dict[Any, Any], name: str) -> Any:
    if name.encode() in record:
        return record[name.encode()]
    return record.get(name)


def iter_shard_records(path: Path) -> Iterator[tuple[str, int, int]]:
    """``(id, byte offset, length)`` of every record of one shard, in file order."""
    with open(path, "rb") as fh:
        unpacker = msgpack.Unpacker(fh, raw=True, max_buffer_size=1 << 30)
        start = 0
        try:
            for record in unpacker:
                end = unpacker.tell()
                if not isinstance(record, dict) or record_field(record, "id") is None \
                        or record_field(record, "image") is None:
                    raise GeotoolError(f"{path}: the record at byte {start} is not a map "
                                       "with 'id' and 'image' (not a GeoEstimation shard)")
                raw_id = record_field(record, "id")
                image_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                yield image_id, start, end - start
                start = end
        except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError,
                ValueError) as exc:
            raise GeotoolError(f"{path}: unreadable msgpack after byte {start}: {exc}") from None


def find_shards(directory: Path) -> list[Path]:
    """``shard_<i>.msg`` files of ``directory``, by number."""
    if not directory.is_dir():
        raise GeotoolError(f"shard folder {directory} does not exist")
    shards = [p for p in directory.iterdir() if SHARD_NAME.match(p.name)]
    if not shards:
        raise GeotoolError(f"{directory} holds no shard_<i>.msg files")
    return sorted(shards, key=lambda p: int(SHARD_NAME.match(p.name).group(1)))  # type: ignore[union-attr]


@dataclass(frozen=True)
class ShardParams:
    """What ``ingest_shards`` indexes: the folder of ``shard_<i>.msg`` files and the
    dataset whose images they hold (ingest its metadata first)."""

    directory: Path | str
    dataset: str

    def validate(self) -> None:
        if not self.dataset or not self.dataset.strip():
            raise InvalidValueError("the dataset name is empty; give one with --dataset NAME")
        if not Path(self.directory).is_dir():
            raise MissingInputError(f"shard folder {self.directory} does not exist; give the "
                                    "folder of the shard_<i>.msg files")


@dataclass
class ShardIngestSummary:
    shards: int = 0
    records: int = 0
    indexed: int = 0
    unknown_ids: int = 0
    unknown_examples: list[str] = field(default_factory=list)
    duplicates: int = 0


def ingest_shards(engine: Engine, params: ShardParams, *,
                  progress: Progress = NO_PROGRESS) -> ShardIngestSummary:
    """Index every record of the shards in ``params.directory`` against the images of
    ``params.dataset``.

    Re-running replaces the dataset's index rows for these shards (idempotent).
    """
    params.validate()
    directory, dataset = Path(params.directory).resolve(), params.dataset
    shards = find_shards(directory)
    with engine.connect() as conn:
        ds = datasets.dataset_id(conn, dataset)
        ids: dict[str, int] = dict(conn.execute(sa.text(
            "SELECT external_id, id FROM images WHERE dataset_id = :d"), {"d": ds}).all())
    summary = ShardIngestSummary(shards=len(shards))
    with recorded_run(engine, "ingest-shards", {"directory": str(directory),
                                                "dataset": dataset}, ds) as run:
        progress.phase("indexing shards", len(shards))
        seen: set[int] = set()
        for shard in shards:
            rows: list[tuple[Any, ...]] = []
            for image_id, offset, length in iter_shard_records(shard):
                summary.records += 1
                key = ids.get(image_id)
                if key is None:
                    summary.unknown_ids += 1
                    if len(summary.unknown_examples) < 5:
                        summary.unknown_examples.append(image_id)
                    continue
                if key in seen:
                    summary.duplicates += 1
                    continue
                seen.add(key)
                rows.append((key, str(shard), offset, length))
            with engine.begin() as conn:
                conn.execute(sa.text(
                    "DELETE FROM shard_index si USING images i WHERE i.id = si.image_id "
                    "AND i.dataset_id = :d AND si.shard_path = :p"), {"d": ds, "p": str(shard)})
                conn.execute(sa.text(
                    "DELETE FROM shard_index WHERE image_id = ANY(:ids)"),
                    {"ids": [r[0] for r in rows]})
                copy_rows(conn, "shard_index",
                          ("image_id", "shard_path", "byte_offset", "length"), rows)
            summary.indexed += len(rows)
            progress.advance(1)
            progress.update(records=summary.records, unknown=summary.unknown_ids)
        run.summary = {k: v for k, v in summary.__dict__.items()}
    return summary
