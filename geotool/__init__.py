"""geotool: interpretable, planet-scale photo geolocation backed by PostGIS.

The library is the product; the ``geotool`` command (``geotool.cli``) is a thin layer
that parses arguments, calls the functions here and shows progress.
"""

__version__ = "0.1.0"
