"""Dataset readers, row validation and streaming load into the images table.

The stages: ``load.ingest_file(engine, IngestParams, *, progress)`` and
``shards.ingest_shards(engine, ShardParams, *, progress)``; ``resample.resample(
ResampleParams, *, progress)`` draws an N-photo coordinate file from real coordinates."""

__all__ = [
    "errors", "load", "locations", "readers", "resample", "shards", "summary", "validate"
]
