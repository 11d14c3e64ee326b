"""Open a QGIS project headless and report on it: run by the system Python (PyQGIS).

Not imported by the tests: ``tests/export`` runs it as
``/usr/bin/python3 qgis_check.py PROJECT OUT.png [RELATION[:KEY] ...]`` with
``QT_QPA_PLATFORM=offscreen`` and reads the JSON it prints: every layer of the layer tree
with its validity, feature count, filter and renderer type; the project's default view
rendered to ``OUT.png`` (visible layers only, white background) with the number of
distinct colours in it; and for each RELATION a layer of that view opened fresh through
the project's service (as a user adding it by hand would), with the renderer its
default style gave it. PROJECT may be a file or a ``postgresql:`` project URI;
``QGIS_CHECK_EXTENT=xmin,ymin,xmax,ymax`` renders that box instead of the project's view.
"""

import json
import os
import sys

from qgis.core import (
    QgsApplication,
    QgsDataSourceUri,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def main(project_path: str, png: str, relations: list[str]) -> dict:
    app = QgsApplication([], False)
    app.initQgis()
    project = QgsProject.instance()
    report: dict = {"read": bool(project.read(project_path)), "layers": [], "fresh": []}
    root = project.layerTreeRoot()
    service = ""
    for node in root.findLayers():
        layer = node.layer()
        if layer is None:
            report["layers"].append({"name": node.name(), "valid": False})
            continue
        uri = QgsDataSourceUri(layer.source())
        service = uri.service() or service
        report["layers"].append({
            "name": layer.name(), "valid": layer.isValid(),
            "features": int(layer.featureCount()), "subset": layer.subsetString(),
            "table": uri.table(), "service": uri.service(), "has_password": bool(uri.password()),
            "renderer": layer.renderer().type() if layer.renderer() else None,
            "labels": bool(layer.labelsEnabled()), "visible": node.isVisible(),
            "group": node.parent().name() if node.parent() is not None else ""})
    visible = [n.layer() for n in root.findLayers() if n.isVisible() and n.layer() is not None]
    extent = project.viewSettings().defaultViewExtent()
    if os.environ.get("QGIS_CHECK_EXTENT"):  # xmin,ymin,xmax,ymax: a closer look
        extent = QgsRectangle(*(float(v) for v in os.environ["QGIS_CHECK_EXTENT"].split(",")))
    if extent.isEmpty():
        extent = QgsRectangle()
        for layer in visible:
            extent.combineExtentWith(layer.extent())
    settings = QgsMapSettings()
    settings.setLayers(visible)
    settings.setDestinationCrs(project.crs())
    settings.setExtent(extent)
    settings.setOutputSize(QSize(1000, 640))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    image.save(png)
    colours = set()
    for y in range(0, image.height(), 3):
        for x in range(0, image.width(), 3):
            colours.add(image.pixel(x, y))
    report.update(png=png, colours=len(colours),
                  extent=[extent.xMinimum(), extent.yMinimum(), extent.xMaximum(),
                          extent.yMaximum()])
    for item in relations:
        relation, _, key = item.partition(":")
        keyed = f"key='{key}' " if key else ""
        uri = f"service='{service}' {keyed}table=\"public\".\"{relation}\" (geom)"
        fresh = QgsVectorLayer(uri, relation, "postgres")
        report["fresh"].append({"relation": relation, "valid": fresh.isValid(),
                                "renderer": fresh.renderer().type() if fresh.renderer()
                                else None, "labels": bool(fresh.labelsEnabled())})
    project.clear()
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], sys.argv[3:])))
