"""geotool: interpretable, planet-scale photo geolocation backed by PostGIS.

The library is the product; the ``geotool`` command (``geotool.cli``) is a thin layer
that parses arguments, calls the functions here and shows progress.
"""

__version__ = "0.1.0"

__all__ = [
    "__version__", "cli", "db", "demo", "errors", "explain", "export", "geocode", "ingest",
    "learn", "partition", "progress", "settings", "synth", "vocab",
]
