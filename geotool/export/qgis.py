"""A styled QGIS project that reads the live database (``geotool export qgis``).

Why this file exists: the views alone open in QGIS as one unstyled layer holding every
set and level; this writes the project a QGIS user expects, without QGIS installed
(the project XML is generated here; the tests open every exported project in real QGIS
3.22 with PyQGIS to check it). What it holds:

- per partitioning set a group with one layer per level of ``qgis_cells`` (filtered in
  SQL on set and level; only the first set's finest level ticked, so sets and levels do
  not hide each other), filled by image count (graduated, five
  quantile classes of that level) and labelled with the place name (the first part of the
  cell's label) once zoomed in far enough that the level's larger cells (90th percentile)
  are about 2 cm on screen, and then only on cells at least 8 mm across;
- per model (only the first ticked) a group with its newest prediction run of the split:
  ``qgis_predictions``
  (points coloured by error on the paper's ladder: 1, 25, 200, 750, 2500 km), the error
  lines to the true location (``qgis_prediction_lines``), and per concept of its newest
  concept run the median ci by country (``qgis_concept_countries``) as a choropleth
  (blue below 1: less attribution than area; red above), unchecked so that they do not
  hide the cells (tick one to see it);
- the connection through a PostgreSQL service name (``service='geotool'``): the project
  holds no password. When the default service ``geotool`` is missing, or reaches another
  database, it is (re)written for the current database
  (:func:`geotool.db.viewer.write_service`); another service must reach this database;
- ``in_database``: the project is also stored in ``qgis_projects`` (QGIS's own table:
  Project → Open From → PostgreSQL) and every view gets a default style in
  ``layer_styles``, so a layer added by hand comes styled.

A ``.qgz`` is a zip holding one ``.qgs``; a ``.qgs`` is written as plain XML. Values in the
layer filters are SQL literals quoted here (QGIS, not geotool, runs those filters).
"""

from __future__ import annotations

import io
import json
import os
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geotool.db.viewer import (
    DEFAULT_SERVICE,
    ServiceEntry,
    read_service,
    require_service,
    service_file,
    write_service,
)
from geotool.errors import GeotoolError, InvalidValueError, MissingInputError
from geotool.export.cells import require_set
from geotool.learn.registry import get_model
from geotool.progress import NO_PROGRESS, Progress

QGIS_VERSION = "3.22.16-Białowieża"
DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
#: the paper's ladder (km) and the colours of its classes, green (street) to red
LADDER_KM = (1.0, 25.0, 200.0, 750.0, 2500.0)
LADDER_NAMES = ("street ≤ 1 km", "city ≤ 25 km", "region ≤ 200 km", "country ≤ 750 km",
                "continent ≤ 2500 km", "> 2500 km")
LADDER_COLOURS = ("26,152,80", "145,207,96", "217,239,139", "254,224,139", "252,141,89",
                  "215,48,39")
COUNT_COLOURS = ("255,255,178", "254,204,92", "253,141,60", "240,59,32", "189,0,38")
CI_BREAKS = (0.0, 0.5, 0.8, 1.25, 2.0, 1e6)
CI_COLOURS = ("33,102,172", "146,197,222", "247,247,247", "244,165,130", "178,24,43")
MAX_CONCEPT_LAYERS = 20
WORLD = (-180.0, -90.0, 180.0, 90.0)


class ExportPathError(GeotoolError):
    """The project cannot be written where asked."""


@dataclass(frozen=True)
class QgisParams:
    """What to export. Empty ``partitions``/``models``: every set / every model that has
    predictions of ``split``."""

    out: Path | None
    partitions: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    split: str = "test"
    service: str = DEFAULT_SERVICE
    service_file: Path | None = None
    in_database: bool = False
    project_name: str | None = None
    secrets: Path | None = None  # where a written service's pgpass goes (default: home)

    @classmethod
    def parse_names(cls, values: Sequence[str] | None) -> tuple[str, ...]:
        """``--partitions a b`` or ``--partitions a,b`` (repeatable) → ``("a", "b")``."""
        out: list[str] = []
        for value in values or ():
            out += [v for v in value.replace(",", " ").split() if v]
        return tuple(dict.fromkeys(out))

    @property
    def name(self) -> str:
        """The project's name (in the database and in QGIS's title bar)."""
        if self.project_name:
            return self.project_name
        return self.out.stem if self.out is not None else "geotool"

    def validate(self) -> None:
        if self.out is None and not self.in_database:
            raise InvalidValueError("give --out PROJECT.qgz, --in-database, or both")
        if self.out is not None:
            if self.out.suffix.lower() not in (".qgz", ".qgs"):
                raise InvalidValueError(f"--out {self.out}: a QGIS project ends in .qgz "
                                        "(zipped) or .qgs (plain XML)")
            parent = self.out.resolve().parent
            if not parent.is_dir():
                raise MissingInputError(f"--out {self.out}: folder {parent} does not exist; "
                                        "create it or write elsewhere")
            if not os.access(parent, os.W_OK) or (self.out.exists()
                                                  and not os.access(self.out, os.W_OK)):
                raise ExportPathError(f"--out {self.out}: not writable here; choose a "
                                      "folder you can write to")
        if self.split not in ("train", "val", "test"):
            raise InvalidValueError(f"--split {self.split!r}: use train, val or test")


@dataclass(frozen=True)
class QgisLayer:
    """One layer of the project, with the number of features its filter selects."""

    name: str
    group: str
    relation: str
    key: str
    geometry: str  # MultiPolygon, Point or LineString
    filter: str
    features: int
    visible: bool
    layer_id: str = field(default="", compare=False)


@dataclass(frozen=True)
class QgisSummary:
    """What was written."""

    path: Path | None
    project_name: str
    service: str
    service_file: Path
    service_written: bool
    layers: list[QgisLayer]
    styles: int  # rows written to layer_styles
    stored_in_database: bool

    @property
    def features(self) -> int:
        return sum(layer.features for layer in self.layers)


# -- XML pieces -------------------------------------------------------------------------

def sql_literal(value: str) -> str:
    """A SQL string literal (standard_conforming_strings): for QGIS layer filters."""
    return "'" + value.replace("'", "''") + "'"


def _el(parent: ET.Element | None, tag: str, text: str | None = None,
        **attrs: str) -> ET.Element:
    node = ET.Element(tag, attrs) if parent is None else ET.SubElement(parent, tag, attrs)
    if text is not None:
        node.text = text
    return node


def _options(parent: ET.Element, values: dict[str, str]) -> None:
    opt = _el(parent, "Option", type="Map")
    for key, value in values.items():
        _el(opt, "Option", name=key, value=value, type="QString")


def _srs(parent: ET.Element) -> None:
    ref = _el(parent, "spatialrefsys")
    _el(ref, "wkt", "")
    _el(ref, "proj4", "+proj=longlat +datum=WGS84 +no_defs")
    _el(ref, "srsid", "3452")
    _el(ref, "srid", "4326")
    _el(ref, "authid", "EPSG:4326")
    _el(ref, "description", "WGS 84")
    _el(ref, "projectionacronym", "longlat")
    _el(ref, "ellipsoidacronym", "EPSG:7030")
    _el(ref, "geographicflag", "true")


def symbol(geometry: str, colour: str, name: str, alpha: int = 255) -> ET.Element:
    """A one-layer QGIS symbol: fill (polygons), circle marker (points) or line."""
    rgba = f"{colour},{alpha}"
    if geometry == "MultiPolygon":
        node = _el(None, "symbol", type="fill", name=name, alpha="1", clip_to_extent="1",
                   force_rhr="0")
        layer = _el(node, "layer", **{"class": "SimpleFill"}, enabled="1", locked="0",
                    pass_="0")
        _options(layer, {"color": rgba, "style": "solid", "outline_color": "60,60,60,200",
                         "outline_style": "solid", "outline_width": "0.2",
                         "outline_width_unit": "MM", "joinstyle": "bevel"})
    elif geometry == "Point":
        node = _el(None, "symbol", type="marker", name=name, alpha="1", clip_to_extent="1",
                   force_rhr="0")
        layer = _el(node, "layer", **{"class": "SimpleMarker"}, enabled="1", locked="0",
                    pass_="0")
        _options(layer, {"color": rgba, "name": "circle", "size": "2.2", "size_unit": "MM",
                         "outline_color": "35,35,35,255", "outline_style": "solid",
                         "outline_width": "0.2", "outline_width_unit": "MM",
                         "scale_method": "diameter", "joinstyle": "bevel"})
    else:
        node = _el(None, "symbol", type="line", name=name, alpha="1", clip_to_extent="1",
                   force_rhr="0")
        layer = _el(node, "layer", **{"class": "SimpleLine"}, enabled="1", locked="0",
                    pass_="0")
        _options(layer, {"line_color": rgba, "line_style": "solid", "line_width": "0.25",
                         "line_width_unit": "MM", "capstyle": "round",
                         "joinstyle": "round"})
    for child in node.iter("layer"):  # 'pass' is a Python keyword
        child.attrib["pass"] = child.attrib.pop("pass_")
    return node


def graduated_renderer(attribute: str, geometry: str,
                       classes: Sequence[tuple[float, float, str, str]],
                       alpha: int = 255) -> ET.Element:
    """``classes``: (lower, upper, label, "r,g,b"); a value v falls in the first class
    with lower ≤ v ≤ upper."""
    node = _el(None, "renderer-v2", type="graduatedSymbol", attr=attribute,
               graduatedMethod="GraduatedColor", symbollevels="0", enableorderby="0",
               forceraster="0", referencescale="-1")
    ranges = _el(node, "ranges")
    symbols = _el(node, "symbols")
    for i, (lower, upper, label, colour) in enumerate(classes):
        _el(ranges, "range", lower=repr(float(lower)), upper=repr(float(upper)),
            label=label, symbol=str(i), render="true")
        symbols.append(symbol(geometry, colour, str(i), alpha))
    return node


def label_settings(expression: str, max_denominator: float,
                   min_feature_mm: float = 0.0) -> ET.Element:
    """Simple labels from an expression, shown from 1:``max_denominator`` inwards, only
    on features at least ``min_feature_mm`` across on screen."""
    node = _el(None, "labeling", type="simple")
    settings = _el(node, "settings", calloutType="simple")
    _el(settings, "text-style", fieldName=expression, isExpression="1", fontSize="8",
        fontSizeUnit="Point", textColor="20,20,20,255", textOpacity="1",
        fontFamily="Sans Serif", namedStyle="Regular", fontWeight="50")
    _el(settings, "text-buffer", bufferDraw="1", bufferSize="0.7", bufferSizeUnits="MM",
        bufferColor="255,255,255,220", bufferOpacity="1", bufferNoFill="1",
        bufferJoinStyle="128")
    _el(settings, "placement", placement="1", polygonPlacementFlags="2",
        fitInPolygonOnly="0", dist="0", priority="5")
    _el(settings, "rendering", scaleVisibility="1", scaleMin="1",
        scaleMax=f"{max_denominator:.0f}", drawLabels="1", obstacle="1",
        displayAll="0", upsidedownLabels="0", labelPerPart="0", maxNumLabels="2000",
        limitNumLabels="0", mergeLines="0", minFeatureSize=str(min_feature_mm))
    return node


def datasource(service: str, relation: str, key: str, geometry: str, filter_sql: str) -> str:
    """A PostgreSQL provider URI through a service name (no password)."""
    return (f"service='{service}' key='{key}' srid=4326 type={geometry} "
            f"checkPrimaryKeyUnicity='0' table=\"public\".\"{relation}\" (geom) "
            f"sql={filter_sql}")


GEOMETRY_TYPE = {"MultiPolygon": ("Polygon", "2"), "Point": ("Point", "0"),
                 "LineString": ("Line", "1")}


@dataclass
class _Styled:
    """A layer with its renderer and labels, before it becomes XML."""

    layer: QgisLayer
    renderer: ET.Element
    labels: ET.Element | None
    opacity: float = 1.0


def maplayer(styled: _Styled, service: str,
             extent: tuple[float, float, float, float]) -> ET.Element:
    lay = styled.layer
    node = _el(None, "maplayer", type="vector", geometry=GEOMETRY_TYPE[lay.geometry][0],
               wkbType=lay.geometry, labelsEnabled="1" if styled.labels is not None else "0",
               styleCategories="AllStyleCategories", hasScaleBasedVisibilityFlag="0",
               minScale="100000000", maxScale="0", readOnly="1", autoRefreshEnabled="0")
    ext = _el(node, "extent")
    for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), extent, strict=True):
        _el(ext, tag, repr(float(value)))
    _el(node, "id", lay.layer_id)
    _el(node, "datasource", datasource(service, lay.relation, lay.key, lay.geometry,
                                       lay.filter))
    _el(node, "layername", lay.name)
    _srs(_el(node, "srs"))
    _el(node, "provider", "postgres", encoding="UTF-8")
    node.append(styled.renderer)
    if styled.labels is not None:
        node.append(styled.labels)
    _el(node, "blendMode", "0")
    _el(node, "featureBlendMode", "0")
    _el(node, "layerOpacity", repr(styled.opacity))
    return node


def style_document(styled: _Styled) -> str:
    """The QML of one layer's style (what QGIS keeps in ``layer_styles.styleqml``)."""
    root = _el(None, "qgis", version=QGIS_VERSION, styleCategories="Symbology|Labeling",
               labelsEnabled="1" if styled.labels is not None else "0")
    root.append(styled.renderer)
    if styled.labels is not None:
        root.append(styled.labels)
    _el(root, "layerOpacity", repr(styled.opacity))
    _el(root, "layerGeometryType", GEOMETRY_TYPE[styled.layer.geometry][1])
    return DOCTYPE + "\n" + ET.tostring(root, encoding="unicode")


def project_document(name: str, styled: Sequence[_Styled], service: str,
                     extent: tuple[float, float, float, float]) -> str:
    """The ``.qgs`` XML: layer tree (groups in order), map canvas extent, layers."""
    root = _el(None, "qgis", version=QGIS_VERSION, projectname=name, saveUser="geotool",
               saveDateTime=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    _el(root, "homePath", path="")
    _el(root, "title", name)
    _srs(_el(root, "projectCrs"))
    tree = _el(root, "layer-tree-group")
    groups: dict[str, ET.Element] = {}
    for s in styled:
        lay = s.layer
        parent = tree
        path = ""
        for part in lay.group.split("/"):
            path = f"{path}/{part}" if path else part
            if path not in groups:
                groups[path] = _el(parent, "layer-tree-group", name=part,
                                   checked="Qt::Checked", expanded="1")
            parent = groups[path]
        _el(parent, "layer-tree-layer", id=lay.layer_id, name=lay.name,
            source=datasource(service, lay.relation, lay.key, lay.geometry, lay.filter),
            providerKey="postgres", checked="Qt::Checked" if lay.visible else "Qt::Unchecked",
            expanded="0")
    canvas = _el(root, "mapcanvas", name="theMapCanvas", annotationsVisible="1")
    _el(canvas, "units", "degrees")
    ext = _el(canvas, "extent")
    for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), extent, strict=True):
        _el(ext, tag, repr(float(value)))
    _el(canvas, "rotation", "0")
    _srs(_el(canvas, "destinationsrs"))
    view = _el(root, "ProjectViewSettings", UseProjectScales="0")
    _el(view, "Scales")
    default = _el(view, "DefaultViewExtent", **{
        tag: repr(float(v)) for tag, v in zip(("xmin", "ymin", "xmax", "ymax"), extent,
                                              strict=True)})
    _srs(default)
    layers = _el(root, "projectlayers")
    for s in styled:
        layers.append(maplayer(s, service, extent))
    ET.indent(root)
    return DOCTYPE + "\n" + ET.tostring(root, encoding="unicode") + "\n"


def qgz_bytes(name: str, qgs: str) -> bytes:
    """A ``.qgz``: a zip holding ``<name>.qgs``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{name}.qgs", qgs)
    return buf.getvalue()


# -- reading what to show ---------------------------------------------------------------

def _count(conn: Connection, relation: str, filter_sql: str) -> int:
    # the filter is the one QGIS will run; its values were quoted by sql_literal
    return int(conn.execute(sa.text(
        f'SELECT count(*) FROM "{relation}" WHERE {filter_sql}')).scalar_one())


def _count_classes(conn: Connection, set_name: str, level: int) -> list[tuple[float, float,
                                                                              str, str]]:
    """Five quantile classes of the level's image counts (fewer when values repeat)."""
    values = conn.execute(sa.text(
        "SELECT percentile_disc(ARRAY[0, 0.2, 0.4, 0.6, 0.8, 1]) WITHIN GROUP "
        "(ORDER BY n_images) FROM qgis_cells WHERE set_name = :s AND level = :l"),
        {"s": set_name, "l": level}).scalar_one() or [0, 0]
    edges = sorted({float(v) for v in values})
    if len(edges) == 1:
        edges = [edges[0], edges[0] + 1]
    classes = []
    for i in range(len(edges) - 1):
        colour = COUNT_COLOURS[round(i * (len(COUNT_COLOURS) - 1) / max(1, len(edges) - 2))]
        classes.append((edges[i], edges[i + 1],
                        f"{edges[i]:.0f} – {edges[i + 1]:.0f} images", colour))
    return classes


def _label_scale(conn: Connection, set_name: str, level: int) -> float:
    """The scale denominator at which the level's larger cells (90th percentile of the
    width) are 2 cm on screen; further out the level shows no labels."""
    width = conn.execute(sa.text(
        "SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY sqrt(ST_Area(geom::geography))) "
        "FROM qgis_cells WHERE set_name = :s AND level = :l AND NOT ST_IsEmpty(geom)"),
        {"s": set_name, "l": level}).scalar_one()
    return max(5000.0, float(width or 100000.0) / 0.02)


def _extent(conn: Connection, sets: Sequence[str], runs: Sequence[int]
            ) -> tuple[float, float, float, float]:
    box = conn.execute(sa.text(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(g) "
        "AS e FROM (SELECT geom AS g FROM qgis_cells WHERE set_name = ANY(:s) "
        "UNION ALL SELECT geom FROM predictions WHERE prediction_run_id = ANY(:r) "
        "AND mode IN ('hier', 'gallery') AND level = 0) u) x"),
        {"s": list(sets), "r": list(runs)}).one()
    if box[0] is None:
        return WORLD
    x0, y0, x1, y1 = (float(v) for v in box)
    pad_x, pad_y = max(0.5, (x1 - x0) * 0.05), max(0.5, (y1 - y0) * 0.05)
    return (max(-180.0, x0 - pad_x), max(-90.0, y0 - pad_y), min(180.0, x1 + pad_x),
            min(90.0, y1 + pad_y))


def _layer_id(name: str) -> str:
    slug = "".join(ch if ch.isalnum() else "_" for ch in name)[:40]
    return f"{slug}_{uuid.uuid5(uuid.NAMESPACE_URL, 'geotool/' + name).hex}"


def _cell_layers(conn: Connection, set_name: str, shown: bool) -> list[_Styled]:
    rows = conn.execute(sa.text(
        "SELECT p.level, p.name FROM partitionings p JOIN partitioning_sets s ON "
        "s.id = p.set_id WHERE s.name = :s ORDER BY p.level"), {"s": set_name}).all()
    out = []
    for level, partitioning in rows:
        flt = f"set_name = {sql_literal(set_name)} AND level = {int(level)}"
        name = f"{set_name} · level {level} ({partitioning})"
        layer = QgisLayer(name, f"cells: {set_name}", "qgis_cells", "id", "MultiPolygon",
                          flt, _count(conn, "qgis_cells", flt), visible=shown and level == 0,
                          layer_id=_layer_id(name))
        renderer = graduated_renderer("n_images", "MultiPolygon",
                                      _count_classes(conn, set_name, int(level)), alpha=170)
        labels = label_settings("regexp_substr(\"label\", '[^,]+')",
                                _label_scale(conn, set_name, int(level)), min_feature_mm=8)
        out.append(_Styled(layer, renderer, labels))
    return out


def _ladder_classes() -> list[tuple[float, float, str, str]]:
    edges = (0.0, *LADDER_KM, 20040.0)
    return [(edges[i], edges[i + 1], LADDER_NAMES[i], LADDER_COLOURS[i])
            for i in range(len(LADDER_NAMES))]


def _model_layers(conn: Connection, model_name: str, split: str,
                  shown: bool) -> tuple[int, list[_Styled]]:
    record = get_model(conn, model_name)
    run = conn.execute(sa.text(
        "SELECT pr.id FROM prediction_runs pr WHERE pr.model_id = :m AND EXISTS ("
        "SELECT 1 FROM predictions p JOIN images i ON i.id = p.image_id "
        "WHERE p.prediction_run_id = pr.id AND i.split = :split) ORDER BY pr.id DESC LIMIT 1"),
        {"m": record.id, "split": split}).scalar()
    if run is None:
        raise GeotoolError(f"model {model_name!r} has no predictions for split {split!r}; "
                           f"run `geotool predict --model {model_name} --split {split}` first")
    group = f"model: {model_name}"
    flt = f"prediction_run_id = {int(run)} AND split = {sql_literal(split)}"
    out = []
    name = f"{model_name} · predictions ({split}, run {run})"
    out.append(_Styled(
        QgisLayer(name, group, "qgis_predictions", "id", "Point", flt,
                  _count(conn, "qgis_predictions", flt), shown, _layer_id(name)),
        graduated_renderer("error_km", "Point", _ladder_classes()), None))
    name = f"{model_name} · error lines to the true location"
    out.append(_Styled(
        QgisLayer(name, group, "qgis_prediction_lines", "id", "LineString", flt,
                  _count(conn, "qgis_prediction_lines", flt), shown, _layer_id(name)),
        graduated_renderer("error_km", "LineString", _ladder_classes(), alpha=110), None,
        opacity=0.8))
    concept_run = conn.execute(sa.text(
        "SELECT id FROM concept_runs WHERE model_id = :m ORDER BY id DESC LIMIT 1"),
        {"m": record.id}).scalar()
    if concept_run is not None:
        concepts = conn.execute(sa.text(
            "SELECT concept, min(beta) AS beta, sum(n_images) AS n FROM qgis_concept_countries "
            "WHERE run_id = :r GROUP BY concept ORDER BY n DESC, concept LIMIT :k"),
            {"r": concept_run, "k": MAX_CONCEPT_LAYERS}).all()
        ci_classes = [(CI_BREAKS[i], CI_BREAKS[i + 1],
                       f"median ci {CI_BREAKS[i]:g} – {CI_BREAKS[i + 1]:g}"
                       if i < len(CI_COLOURS) - 1 else f"median ci ≥ {CI_BREAKS[i]:g}",
                       CI_COLOURS[i]) for i in range(len(CI_COLOURS))]
        for concept, beta, _ in concepts:
            cflt = (f"run_id = {int(concept_run)} AND concept = {sql_literal(concept)} "
                    f"AND beta = {int(beta)}")
            name = f"{model_name} · ci of {concept} by country (β={beta})"
            out.append(_Styled(
                QgisLayer(name, f"{group}/concept ci by country (run {concept_run})",
                          "qgis_concept_countries", "id", "MultiPolygon", cflt,
                          _count(conn, "qgis_concept_countries", cflt), False,
                          _layer_id(name)),
                graduated_renderer("median_ci", "MultiPolygon", ci_classes, alpha=200),
                label_settings("\"country\" || ': ' || format_number(\"median_ci\", 2)",
                               1e9)))
    return int(run), out


def _models_with_predictions(conn: Connection, split: str) -> list[str]:
    return [str(r[0]) for r in conn.execute(sa.text(
        "SELECT DISTINCT m.name FROM models m JOIN prediction_runs pr ON pr.model_id = m.id "
        "WHERE EXISTS (SELECT 1 FROM predictions p JOIN images i ON i.id = p.image_id "
        "WHERE p.prediction_run_id = pr.id AND i.split = :split) ORDER BY 1"),
        {"split": split})]


def _same_database(entry: ServiceEntry, engine: Engine) -> bool:
    url = engine.url
    return (entry.dbname == (url.database or "") and int(entry.port) == int(url.port or 5432)
            and entry.host in {url.host or "127.0.0.1", "localhost", "127.0.0.1"})


def _check_service(entry: ServiceEntry, engine: Engine) -> None:
    url = engine.url
    if not _same_database(entry, engine):
        raise GeotoolError(
            f"service {entry.name!r} reaches database {entry.dbname!r} on {entry.host}:"
            f"{entry.port}, but the export reads {url.database!r} on {url.host}:{url.port}; "
            f"rewrite it with `geotool db service {entry.name}` or pass --service")


def _write_styles(conn: Connection, styled: Sequence[_Styled]) -> int:
    """One default style per view (the first layer of each view sets it). ``type`` stays
    NULL: QGIS 3.22 matches a style whose type is NULL or equals the geometry type named
    in the layer's URI, and a URI typed by hand often names none."""
    done: dict[str, _Styled] = {}
    for s in styled:
        done.setdefault(s.layer.relation, s)
    for relation, s in done.items():
        conn.execute(sa.text(
            "DELETE FROM layer_styles WHERE f_table_catalog = current_database() AND "
            "f_table_schema = 'public' AND f_table_name = :t AND f_geometry_column = 'geom' "
            "AND stylename = 'geotool'"), {"t": relation})
        conn.execute(sa.text(
            "UPDATE layer_styles SET useasdefault = false WHERE f_table_catalog = "
            "current_database() AND f_table_schema = 'public' AND f_table_name = :t "
            "AND f_geometry_column = 'geom'"), {"t": relation})
        conn.execute(sa.text(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
            "f_geometry_column, stylename, styleqml, stylesld, useasdefault, description, "
            "type) VALUES (current_database(), 'public', :t, 'geom', 'geotool', "
            "XMLPARSE(DOCUMENT :qml), NULL, true, :d, NULL)"),
            {"t": relation, "qml": style_document(s),
             "d": "written by geotool export qgis --in-database"})
    return len(done)


def export_qgis(engine: Engine, params: QgisParams, *,
                progress: Progress = NO_PROGRESS) -> QgisSummary:
    """Write the project (and with ``in_database`` store it and the default styles)."""
    params.validate()
    written = False
    entry = read_service(params.service, params.service_file)
    if params.service == DEFAULT_SERVICE and (entry is None
                                              or not _same_database(entry, engine)):
        # geotool's own service always reaches the database being exported
        entry = write_service(params.service, engine.url, path=params.service_file,
                              secrets=params.secrets)
        written = True
    entry = entry or require_service(params.service, params.service_file)
    _check_service(entry, engine)
    with engine.connect() as conn:
        sets = list(params.partitions) or [str(r[0]) for r in conn.execute(sa.text(
            "SELECT name FROM partitioning_sets ORDER BY id"))]
        for s in sets:
            require_set(engine, s)
        models = list(params.models) or _models_with_predictions(conn, params.split)
        for m in models:
            get_model(conn, m)  # an unknown name fails before any work
        progress.phase("layers", len(sets) + len(models))
        styled: list[_Styled] = []
        runs = []
        for i, s in enumerate(sets):
            styled += _cell_layers(conn, s, shown=(i == 0))
            progress.advance()
        for i, m in enumerate(models):
            run, layers = _model_layers(conn, m, params.split, shown=(i == 0))
            runs.append(run)
            styled += layers
            progress.advance()
        if not styled:
            raise GeotoolError("nothing to show: the database has no partitioning set and no "
                               "predictions; run `geotool build` (and `geotool predict`) first")
        extent = _extent(conn, sets, runs)
    # models first in the tree (drawn on top), then the cells
    order = [s for s in styled if s.layer.relation != "qgis_cells"] + \
            [s for s in styled if s.layer.relation == "qgis_cells"]
    qgs = project_document(params.name, order, params.service, extent)
    if params.out is not None:
        data = qgs.encode() if params.out.suffix.lower() == ".qgs" else \
            qgz_bytes(params.name, qgs)
        part = params.out.with_name(params.out.name + ".part")
        try:
            part.write_bytes(data)
            os.replace(part, params.out)
        except OSError as exc:
            part.unlink(missing_ok=True)
            raise ExportPathError(f"--out {params.out}: cannot write ({exc.strerror})") from None
    styles = 0
    if params.in_database:
        with engine.begin() as conn:
            styles = _write_styles(conn, order)
            conn.execute(sa.text(
                "INSERT INTO qgis_projects (name, metadata, content) VALUES (:n, "
                "CAST(:meta AS jsonb), :c) ON CONFLICT (name) DO UPDATE SET "
                "metadata = EXCLUDED.metadata, content = EXCLUDED.content"),
                {"n": params.name, "c": qgz_bytes(params.name, qgs),
                 "meta": json.dumps({"last_modified_time": datetime.now().isoformat(" "),
                                     "last_modified_user": "geotool"})})
    return QgisSummary(params.out, params.name, params.service,
                       service_file(params.service_file), written,
                       [s.layer for s in order], styles, params.in_database)
