"""Exports: GeoPackage/GeoJSON, QGIS styles, reports."""
