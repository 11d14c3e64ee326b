"""Dataset readers, row validation and streaming load into the images table.

The stages: ``load.ingest_file(engine, IngestParams, *, progress)`` and
``shards.ingest_shards(engine, ShardParams, *, progress)``."""

__all__ = [
    "errors", "load", "locations", "readers", "shards", "summary", "validate"
]
