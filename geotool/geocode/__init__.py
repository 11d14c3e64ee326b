"""Reverse geocoding: Nominatim (HTTP, in-process, bulk SQL), boundaries, and storage."""
