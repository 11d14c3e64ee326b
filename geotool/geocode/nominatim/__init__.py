"""Reverse geocoding with Nominatim: in-process (``inprocess``), over HTTP (``http``), as
set-based SQL on Nominatim's tables (``bulk``), the local Nominatim import (``local``) and
a standard-library server for its v1 HTTP API (``serve``)."""
