"""Reading training images out of GeoEstimation msgpack shards by random access.

``geotool ingest-shards`` (:mod:`geotool.ingest.shards`) recorded each record's shard,
byte offset and length; training reads a record here by slicing a memory map of its
shard, one map per process.
"""

from __future__ import annotations

import mmap

import msgpack

from geotool.ingest.shards import record_field
from geotool.learn.badimage import BadImage

_MAPS: dict[str, mmap.mmap] = {}


def read_shard_image(shard_path: str, offset: int, length: int) -> bytes:
    """The JPEG bytes of the record at ``offset`` (memory-mapped; one map per process)."""
    mapped = _MAPS.get(shard_path)
    if mapped is None:
        try:
            # the map keeps its own handle: the file is closed at once, also when mapping
            # fails (an empty or unreadable shard used to leave its file open)
            with open(shard_path, "rb") as fh:
                mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise BadImage(f"cannot open shard {shard_path}: {exc}") from None
        _MAPS[shard_path] = mapped
    if offset + length > len(mapped):
        raise BadImage(f"shard {shard_path} is shorter than the indexed record at {offset}")
    try:
        record = msgpack.unpackb(mapped[offset:offset + length], raw=True)
    except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError) as exc:
        raise BadImage(f"shard {shard_path} record at {offset} is damaged: {exc}") from None
    data = record_field(record, "image") if isinstance(record, dict) else None
    if not isinstance(data, bytes):
        raise BadImage(f"shard {shard_path} record at {offset} has no image bytes")
    return data
