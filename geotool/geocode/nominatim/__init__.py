"""Reverse geocoding with Nominatim: in-process (``inprocess``), over HTTP (``http``), as
set-based SQL on Nominatim's tables (``bulk``), the local Nominatim import (``local``), a
standard-library server for its v1 HTTP API (``serve``), and the turning of Nominatim's
rows into geotool's records that they share (``records``)."""

__all__ = [
    "bulk", "http", "inprocess", "local", "records", "serve"
]
