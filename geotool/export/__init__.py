"""Exports: GeoPackage/GeoJSON, the QGIS project, reports.

The stages: ``cells.export_cells``, ``predictions.export_predictions`` and
``qgis.export_qgis(engine, QgisParams, *, progress)`` (a styled QGIS project that reads
the live database; docs/viewing.md)."""

__all__ = [
    "cells", "gpkg", "predictions", "qgis"
]
