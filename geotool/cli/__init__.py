"""The ``geotool`` command line: Typer commands that parse, call the library, print.

A command only maps its flags to the stage's parameter object (``*Params``) and prints
the summary; parsing and checking values is the parameter class's job."""

__all__ = [
    "app", "boundaries", "build", "common", "concepts", "db", "demo", "docs", "evaluate", "export",
    "geocode", "geonames", "ingest", "ingest_shards", "models", "nominatim", "partitions",
    "predict", "progress", "resample", "runs", "synth", "train"
]
