"""Reverse geocoding: Nominatim (HTTP, in-process, bulk SQL), boundaries, and storage.

The stage: ``pipeline.geocode(engine, GeocodeParams, *, progress)``; the geocoders by name
in ``registry``."""

__all__ = [
    "boundaries", "nominatim", "pipeline", "registry", "store", "types"
]
