"""Exports: GeoPackage/GeoJSON, QGIS styles, reports.

The stages: ``cells.export_cells`` and ``predictions.export_predictions``."""

__all__ = [
    "cells", "gpkg", "predictions"
]
