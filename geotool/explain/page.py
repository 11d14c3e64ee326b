"""One photo explained as ONE self-contained HTML page (``geotool concepts explain
PHOTO --model M --html OUT.html``): the paper's Figures 3 and 4 for a single photo.

Why this file exists: the PNG figure of :mod:`geotool.explain.photo` shows the
explanation but not the answer on a map; a person wants to open one file anywhere (mail
it, put it on a share) and see everything. The page holds, with no network resource
(images are base64 ``data:`` URIs, the map is inline SVG, the style is inline CSS):

- the photo (at most 640 px on its long side, JPEG);
- the answer's label path (its place names, coarse → fine) and the class with its
  probability at each level of the partitioning set (fine first);
- a map of the top-25 cells of the finest level (polygons from PostGIS as SVG, coloured
  by probability, over the coarsest level's cells in grey), the predicted point, and the
  true location when the photo is in the database;
- the attribution heat map (Integrated Gradients + SmoothGrad², as the concept pass
  computes it) over the photo as the model saw it;
- the photo's ci per concept as bars (β = the smallest asked), when its label map is
  known (``--mask``, or the ``mask_path`` of its row in the database).

Model families: :func:`model_family` reads ``models.family`` (``classifier`` or
``align``) and :data:`PAGE_SECTIONS` maps a family to the function that builds its answer
sections. Only the classifier's exists; the image–GPS alignment family (``align``) must
register its own there, showing its concept scores instead of cells — until then its
page is refused with a clear error.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError
from sqlalchemy.engine import Engine

from geotool.db import sqlfiles
from geotool.errors import GeotoolError, InvalidValueError, MissingInputError, UnavailableError
from geotool.learn.registry import ModelRecord, get_model
from geotool.progress import NO_PROGRESS, Progress

PHOTO_PX = 640
HEAT_PX = 320
MAX_BARS = 12
#: inferno-like anchors for the heat map (dark → bright)
HEAT_COLOURS = np.array([(0, 0, 4), (87, 16, 110), (188, 55, 84), (249, 142, 9),
                         (252, 255, 164)], dtype=np.float64)
#: light yellow → dark red for the cells' probability
CELL_COLOURS = np.array([(255, 255, 204), (254, 178, 76), (240, 59, 32), (128, 0, 38)],
                        dtype=np.float64)


class NotAnImageError(GeotoolError):
    """The photo file is not an image geotool can decode."""


class PagePathError(GeotoolError):
    """The page cannot be written where asked."""


@dataclass(frozen=True)
class ExplainPageParams:
    """``influence``: how to explain (an ``InfluenceParams``; default ones when None);
    ``segmenter``: the label-map source (synthetic masks when None)."""

    photo: Path
    model: str
    out: Path
    mask: Path | None = None
    top_k: int = 25
    crops: int = 5
    influence: Any = None
    segmenter: Any = None

    def validate(self) -> None:
        if not self.photo.is_file():
            raise MissingInputError(f"photo {self.photo} does not exist")
        try:
            with Image.open(self.photo) as img:
                img.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise NotAnImageError(f"{self.photo} is not an image geotool can read (JPEG, "
                                  "PNG, WebP …); give a photo file") from None
        if self.mask is not None and not self.mask.is_file():
            raise MissingInputError(f"--mask {self.mask} does not exist")
        if self.out.suffix.lower() not in (".html", ".htm"):
            raise InvalidValueError(f"--html {self.out}: the page's name ends in .html")
        parent = self.out.resolve().parent
        if not parent.is_dir():
            raise PagePathError(f"--html {self.out}: folder {parent} does not exist; create "
                                "it or write elsewhere")
        if not os.access(parent, os.W_OK) or (self.out.exists()
                                              and not os.access(self.out, os.W_OK)):
            raise PagePathError(f"--html {self.out}: not writable here; choose a folder "
                                "you can write to")
        if not 1 <= self.top_k <= 100:
            raise InvalidValueError(f"--top-k {self.top_k}: give 1 to 100 cells")


@dataclass(frozen=True)
class LevelAnswer:
    """One level of the answer's label path."""

    level: int
    partitioning: str
    name: str
    label: str
    probability: float


@dataclass
class PageContent:
    """What a model family contributes to the page."""

    family: str
    title: str  # the answer in one line
    path: list[LevelAnswer]  # the hierarchical answer at every level, coarse → fine
    sections: list[str] = field(default_factory=list)  # HTML fragments
    cells: int = 0  # cell shapes on the map
    error_km: float | None = None
    true_location: tuple[float, float] | None = None
    mask_path: str | None = None  # the photo's label map, from its database row
    #: False: no attribution heat map / ci bars (the alignment family shows its concept
    #: scores in its own sections instead)
    attribution: bool = True
    concepts: int = 0  # concept bars in the family's own sections


@dataclass(frozen=True)
class ExplainPageSummary:
    """What was written."""

    path: Path
    bytes: int
    family: str
    answer: str
    levels: list[LevelAnswer]
    cells: int
    concepts: int
    true_location: tuple[float, float] | None
    error_km: float | None


def model_family(record: ModelRecord) -> str:
    """The model's family (``models.family``: ``classifier`` or ``align``)."""
    return str(record.family or "classifier")


# -- pictures ---------------------------------------------------------------------------

def _ramp(colours: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
    """Piecewise-linear colour ramp: t in [0, 1] → RGB floats."""
    t = np.clip(t, 0.0, 1.0) * (len(colours) - 1)
    lo = np.minimum(np.floor(t).astype(int), len(colours) - 2)
    frac = (t - lo)[..., None]
    return np.asarray(colours[lo] * (1 - frac) + colours[lo + 1] * frac)


def _data_uri(img: Image.Image, fmt: str, **save: Any) -> str:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save)
    mime = "jpeg" if fmt == "JPEG" else fmt.lower()
    return f"data:image/{mime};base64,{base64.b64encode(buf.getvalue()).decode()}"


def photo_uri(path: Path, px: int = PHOTO_PX) -> str:
    """The photo as a JPEG data URI, at most ``px`` on its long side."""
    with Image.open(path) as img:
        rgb = img.convert("RGB")
    rgb.thumbnail((px, px), Image.Resampling.LANCZOS)
    return _data_uri(rgb, "JPEG", quality=85, optimize=True)


def heat_overlay(model_input: NDArray[np.uint8], heat: NDArray[np.float32],
                 px: int = HEAT_PX) -> Image.Image:
    """The heat map over the (greyed) model input, upscaled to ``px``."""
    h = np.asarray(heat, dtype=np.float64)
    h = h - h.min()
    if h.max() > 0:
        h = h / np.quantile(h, 0.995) if np.quantile(h, 0.995) > 0 else h / h.max()
    h = np.clip(h, 0, 1)
    grey = model_input.astype(np.float64).mean(axis=2, keepdims=True).repeat(3, axis=2)
    alpha = (h ** 0.7 * 0.8)[..., None]
    blended = grey * 0.8 * (1 - alpha) + _ramp(HEAT_COLOURS, h) * alpha
    img = Image.fromarray(np.clip(blended, 0, 255).astype(np.uint8))
    return img.resize((px, round(px * img.height / img.width)), Image.Resampling.BILINEAR)


def _rgb(c: NDArray[np.float64]) -> str:
    return f"rgb({int(c[0])},{int(c[1])},{int(c[2])})"


# -- the classifier family --------------------------------------------------------------

def _photo_row(engine: Engine, photo: Path, set_name: str) -> Any:
    with engine.connect() as conn:
        result = sqlfiles.run(conn, "explain/page_photo.sql", path=str(photo),
                              stem=photo.stem, set_name=set_name)
        return result.first() if result is not None else None


def map_box(xs: list[float], ys: list[float]) -> tuple[tuple[float, float, float, float],
                                                       float]:
    """The padded box (x0, x1, y0, y1) around points (lon ``xs``, lat ``ys``) and its size
    in degrees (at least 0.001)."""
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    size = max(x1 - x0, y1 - y0, 1e-3)
    pad = size * 0.08
    return (x0 - pad, x1 + pad, y0 - pad, y1 + pad), size


def svg_open(box: tuple[float, float, float, float], label: str) -> tuple[float, str]:
    """The map's projection (equirectangular, longitudes scaled by k = cos(mid latitude);
    y = -lat) and its opening ``<svg>`` tag for the box (x0, x1, y0, y1): returns (k, tag).
    Draw lon as ``lon * k`` (or in a ``scale(k,1)`` group) and lat as ``-lat``."""
    x0, x1, y0, y1 = box
    k = max(0.05, math.cos(math.radians((y0 + y1) / 2)))
    view = f"{x0 * k:.5f} {-y1:.5f} {(x1 - x0) * k:.5f} {y1 - y0:.5f}"
    return k, (f'<svg class="map" viewBox="{view}" preserveAspectRatio="xMidYMid meet" '
               f'role="img" aria-label="{html.escape(label)}">')


def cells_map(engine: Engine, set_name: str, cells: list[tuple[int, str, float]],
              predicted: tuple[float, float] | None,
              true: tuple[float, float] | None) -> tuple[str, int]:
    """Inline SVG of the cells ``(cell id, label, probability)`` coloured by probability,
    rank 1 first, with the predicted and true points; returns (svg, shapes drawn)."""
    ids = [c[0] for c in cells]
    with engine.connect() as conn:
        result = sqlfiles.run(conn, "explain/page_cells.sql", cell_ids=ids, tolerance=0.0)
        rows = {int(r.id): r for r in (result.all() if result is not None else [])}
        if not rows:
            return "<p>The top cells have no polygons in the database.</p>", 0
        # frame the most probable cells (three at least, then up to 75 % of the shown
        # probability): a far-away tail of small probabilities would shrink the rest
        total, cum, framed = sum(p for _, _, p in cells), 0.0, []
        for rank, (cid, _, p) in enumerate(cells, start=1):
            if cid in rows and (rank <= 3 or cum < 0.75 * total):
                framed.append(rows[cid])
            cum += p
        xs = [v for r in framed for v in (r.xmin, r.xmax)]
        ys = [v for r in framed for v in (r.ymin, r.ymax)]
        for point in (predicted, true):
            if point is not None:
                ys.append(point[0])
                xs.append(point[1])
        (x0, x1, y0, y1), size = map_box(xs, ys)
        tol = size / 600
        result = sqlfiles.run(conn, "explain/page_cells.sql", cell_ids=ids, tolerance=tol)
        simplified = {int(r.id): r.path for r in (result.all() if result is not None else [])}
        context = sqlfiles.run(conn, "explain/page_context.sql", set_name=set_name,
                               xmin=x0, ymin=y0, xmax=x1, ymax=y1, tolerance=tol)
        context_rows = context.all() if context is not None else []
    k, head = svg_open((x0, x1, y0, y1), "top cells")
    top = max(p for _, _, p in cells) or 1.0
    parts = [head, f'<g transform="scale({k:.6f},1)">']
    for r in context_rows:
        parts.append(f'<path class="context" d="{r.path}"><title>{html.escape(r.label or "")}'
                     "</title></path>")
    drawn = outside = 0
    for rank, (cid, label, p) in reversed(list(enumerate(cells, start=1))):
        if cid not in simplified:
            continue
        r = rows[cid]
        outside += int(r.xmax < x0 or r.xmin > x1 or r.ymax < y0 or r.ymin > y1)
        colour = _rgb(_ramp(CELL_COLOURS, np.array([p / top]))[0])
        parts.append(f'<path class="cell" data-rank="{rank}" data-p="{p:.4f}" fill="{colour}" '
                     f'd="{simplified[cid]}"><title>{rank}. {html.escape(label)} — '
                     f"{p:.1%}</title></path>")
        drawn += 1
    radius = size / 60
    parts.append("</g>")
    for point, cls, title in ((predicted, "predicted", "predicted location"),
                              (true, "truth", "true location")):
        if point is not None:
            parts.append(f'<circle class="{cls}" cx="{point[1] * k:.5f}" cy="{-point[0]:.5f}" '
                         f'r="{radius:.5f}"><title>{title}</title></circle>')
    parts.append("</svg>")
    if outside:
        parts.append(f'<p class="legend">{outside} of the {drawn} cells lie outside this view '
                     "(far away, with small probabilities: see the table).</p>")
    return "".join(parts), drawn


def _classifier_sections(engine: Engine, params: ExplainPageParams, record: ModelRecord,
                         progress: Progress) -> PageContent:
    from geotool.learn.lookup import ready_model
    from geotool.learn.predict import predict_image

    progress.phase("answer", 1)
    ready = ready_model(engine, params.model)
    answer = predict_image(ready, [params.photo], crops=params.crops, top_k=params.top_k)[0]
    if answer.error:
        raise NotAnImageError(f"{params.photo}: {answer.error}")
    progress.advance()
    path = [LevelAnswer(c.level, c.partitioning, c.name, c.label, c.probability)
            for c in reversed(answer.hierarchical)]  # coarse → fine, every level
    fine = answer.hierarchical[0] if answer.hierarchical else answer.flat[0]
    level0 = ready.classes.levels[0]
    assert level0.cell_ids is not None
    top = [(int(level0.cell_ids[c.class_index]), c.label, c.probability)
           for c in answer.top_k[0]]
    row = _photo_row(engine, params.photo.resolve(), ready.classes.set_name)
    true = (float(row.lat), float(row.lon)) if row is not None else None
    progress.phase("map", 1)
    svg, drawn = cells_map(engine, ready.classes.set_name, top, (fine.lat, fine.lon), true)
    progress.advance()
    error_km = None
    if true is not None:
        from geotool.learn.geodesy import haversine_km

        error_km = float(haversine_km(fine.lat, fine.lon, true[0], true[1]))
    rows = "".join(
        f'<tr><td class="rank">{i}</td><td>{html.escape(label)}</td>'
        f'<td class="num">{p:.1%}</td></tr>'
        for i, (_, label, p) in enumerate(top, start=1))
    truth = (f"true location {true[0]:.4f}, {true[1]:.4f}: error {error_km:,.1f} km"
             if true is not None and error_km is not None else
             "true location unknown (the photo is not in the database)")
    section = (
        f'<section><h2>Top {len(top)} cells of {html.escape(level0.partitioning)}</h2>'
        f'<div class="answer"><div class="mapwrap">{svg}<p class="legend">'
        '<span class="swatch hi"></span> most '
        '<span class="swatch lo"></span> least probable · <span class="dot predicted">'
        '</span> predicted · <span class="dot truth"></span> true location</p>'
        f'<p class="truthline">{html.escape(truth)}</p></div>'
        f'<table class="cells"><tr><th>#</th><th>cell</th><th>p</th></tr>{rows}</table>'
        "</div></section>")
    title = answer.summary_line()
    return PageContent("classifier", title, path, [section], drawn, error_km, true,
                       row.mask_path if row is not None else None)


# -- the alignment family ---------------------------------------------------------------

def points_map(points: list[tuple[float, float, float]], predicted: tuple[float, float],
               true: tuple[float, float] | None) -> str:
    """Inline SVG of gallery points ``(lat, lon, probability)`` (rank 1 first) coloured by
    probability (same ramp and projection as :func:`cells_map`), with the answered and the
    true point."""
    xs = [lon for _, lon, _ in points] + [predicted[1]]
    ys = [lat for lat, _, _ in points] + [predicted[0]]
    if true is not None:
        ys.append(true[0])
        xs.append(true[1])
    box, size = map_box(xs, ys)
    k, head = svg_open(box, "top gallery points")
    top = max((p for _, _, p in points), default=1.0) or 1.0
    radius = size / 60
    parts = [head]
    for rank, (lat, lon, p) in reversed(list(enumerate(points, start=1))):
        colour = _rgb(_ramp(CELL_COLOURS, np.array([p / top]))[0])
        parts.append(f'<circle class="point" data-rank="{rank}" data-p="{p:.4f}" '
                     f'fill="{colour}" cx="{lon * k:.5f}" cy="{-lat:.5f}" '
                     f'r="{radius * 0.8:.5f}"><title>{rank}. {lat:.4f}, {lon:.4f} — '
                     f"{p:.1%}</title></circle>")
    for point, cls, title in ((predicted, "predicted", "answered location"),
                              (true, "truth", "true location")):
        if point is not None:
            parts.append(f'<circle class="{cls}" cx="{point[1] * k:.5f}" '
                         f'cy="{-point[0]:.5f}" r="{radius * 1.3:.5f}"><title>{title}'
                         "</title></circle>")
    parts.append("</svg>")
    return "".join(parts)


def score_bars(title: str, scores: list[tuple[str, float]], css_id: str, note: str) -> str:
    """Concept scores (probabilities over the model's concept bank) as bars, highest
    first, at most :data:`MAX_BARS`."""
    shown = scores[:MAX_BARS]
    if not shown:
        return (f'<div class="bars" id="{css_id}"><h2>{html.escape(title)}</h2>'
                '<p class="note">The model has no concept bank.</p></div>')
    top = max(s for _, s in shown) or 1.0
    bars = "".join(
        f'<div class="bar" data-concept="{html.escape(name)}"><span class="name">'
        f'{html.escape(name)}</span><span class="track"><span class="fill" '
        f'style="display:block;width:{100.0 * max(0.0, s) / top:.1f}%"></span></span>'
        f'<span class="v">{s:.3f}</span></div>' for name, s in shown)
    return (f'<div class="bars" id="{css_id}"><h2>{html.escape(title)}</h2>{bars}'
            f'<p class="note">{html.escape(note)}</p></div>')


def _align_sections(engine: Engine, params: ExplainPageParams, record: ModelRecord,
                    progress: Progress) -> PageContent:
    from geotool.learn.align.predict import predict_image_align, training_dataset
    from geotool.learn.geodesy import haversine_km

    progress.phase("answer", 1)
    answer = predict_image_align(engine, params.model, [params.photo], crops=params.crops,
                                 top_k=params.top_k)[0]
    if answer.error:
        raise NotAnImageError(f"{params.photo}: {answer.error}")
    assert answer.lat is not None and answer.lon is not None
    progress.advance()
    gallery = f"{training_dataset(record) or ''}_train"
    with engine.connect() as conn:
        result = sqlfiles.run(conn, "explain/page_photo_dataset.sql",
                              path=str(params.photo.resolve()), stem=params.photo.stem,
                              dataset=training_dataset(record) or "")
        row = result.first() if result is not None else None
    true = (float(row.lat), float(row.lon)) if row is not None else None
    error_km = (float(haversine_km(answer.lat, answer.lon, true[0], true[1]))
                if true is not None else None)
    progress.phase("map", 1)
    points = [(p.lat, p.lon, p.probability) for p in answer.top_k]
    svg = points_map(points, (answer.lat, answer.lon), true)
    progress.advance()
    place = answer.place or f"{answer.lat:.4f}, {answer.lon:.4f}"
    conf = answer.confidence if answer.confidence is not None else 0.0
    near = f"near {place} ({conf:.0%})".replace("%", " %")
    truth = (f"true location {true[0]:.4f}, {true[1]:.4f}: error {error_km:,.1f} km"
             if true is not None and error_km is not None else
             "true location unknown (the photo is not in the database)")
    rows = "".join(
        f'<tr><td class="rank">{i}</td><td>{p.lat:.4f}, {p.lon:.4f}</td>'
        f'<td class="num">{p.probability:.1%}</td></tr>'
        for i, p in enumerate(answer.top_k, start=1))
    answer_html = (
        f'<section><h2>Answer</h2><p class="alignanswer" id="align-answer">'
        f"{html.escape(near)}</p>"
        f'<p class="truthline" id="answered">answered coordinate {answer.lat:.4f}, '
        f"{answer.lon:.4f} (the best gallery point; p = the top-{len(answer.top_k)} "
        f"points' probability within {answer.near_km:g} km of it)</p>"
        f'<p class="truthline" id="truth">{html.escape(truth)}</p></section>')
    map_html = (
        f'<section><h2>Top {len(answer.top_k)} gallery points</h2>'
        f'<div class="answer"><div class="mapwrap">{svg}<p class="legend">'
        '<span class="swatch hi"></span> most <span class="swatch lo"></span> least '
        'probable · <span class="dot predicted"></span> answered · <span class="dot '
        'truth"></span> true location</p></div>'
        f'<table class="cells"><tr><th>#</th><th>point</th><th>p</th></tr>{rows}</table>'
        "</div></section>")
    bars_html = (
        '<section><h2>Concept scores</h2><div class="row">'
        + score_bars("The photo (image side)", answer.concepts, "image-concepts",
                     "the photo's embedding scored against the model's concept bank")
        + score_bars(f"The answered place ({place})", answer.location_concepts,
                     "place-concepts", "the answered gallery point's GPS embedding "
                                       "scored against the same bank")
        + "</div></section>")
    path = [LevelAnswer(0, f"gallery {gallery}", place, place, conf)]
    return PageContent("align", answer.summary_line(), path,
                       [answer_html, map_html, bars_html], len(points), error_km, true,
                       row.mask_path if row is not None else None, attribution=False,
                       concepts=len(answer.concepts[:MAX_BARS]))


#: model family → the function building its answer sections
PageSections = Callable[[Engine, ExplainPageParams, ModelRecord, Progress], PageContent]
PAGE_SECTIONS: dict[str, PageSections] = {"classifier": _classifier_sections,
                                          "align": _align_sections}


# -- the page ---------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;
color:#1d1d1f;background:#fafafa;max-width:1180px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:18px 0 8px}
.sub{color:#666;font-size:13px;margin-bottom:14px}
.labelpath{font-size:19px;margin:8px 0 6px}
.labelpath .place{display:inline-block;background:#fff;border:1px solid #ddd;
border-radius:6px;padding:3px 8px;margin:2px}
ol.levels{list-style:none;padding:0;margin:0 0 16px;font-size:14px}
ol.levels li{margin:2px 0}ol.levels .lvl{color:#666;display:inline-block;min-width:170px}
ol.levels .p{color:#b0002a;font-weight:600;margin-left:8px}
.row{display:flex;gap:20px;flex-wrap:wrap;align-items:flex-start}
figure{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px}
figcaption{font-size:12px;color:#555;margin-top:4px;max-width:320px}
img.photo{display:block;width:320px;max-width:640px;height:auto}
.answer{display:flex;gap:20px;flex-wrap:wrap}
.mapwrap{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px}
svg.map{width:560px;height:420px;background:#eef3f7}
svg.map path{stroke:#333;stroke-width:0.7;vector-effect:non-scaling-stroke}
svg.map path.context{fill:#e2e2e2;stroke:#999}
svg.map circle{vector-effect:non-scaling-stroke;stroke-width:1.5}
circle.point{stroke:#333;stroke-width:0.7}.alignanswer{font-size:19px;margin:4px 0}
circle.predicted{fill:#ffd400;stroke:#000}circle.truth{fill:#2a7fff;stroke:#fff}
.legend,.truthline{font-size:12px;color:#444;margin:4px 0}
.swatch{display:inline-block;width:12px;height:12px;vertical-align:middle}
.swatch.hi{background:#800026}.swatch.lo{background:#ffffcc;border:1px solid #ccc}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;vertical-align:middle}
.dot.predicted{background:#ffd400;border:1px solid #000}.dot.truth{background:#2a7fff}
table.cells{border-collapse:collapse;font-size:12px;background:#fff}
table.cells td,table.cells th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left}
td.num,td.rank{text-align:right;font-variant-numeric:tabular-nums}
.bars{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px;min-width:380px}
.bar{display:flex;align-items:center;font-size:12px;margin:3px 0}
.bar .name{width:120px}.bar .track{position:relative;width:220px;height:12px;
background:#f0f0f0}
.bar .fill{height:12px;background:#3b6fb6}.bar .fill.over{background:#c0392b}
.bar .one{position:absolute;top:-2px;bottom:-2px;width:1px;background:#000}
.bar .v{width:50px;text-align:right;font-variant-numeric:tabular-nums}
.note{font-size:12px;color:#666}
"""


def _ci_section(scores: list[Any], k: int, note: str | None) -> tuple[str, int]:
    if note is not None:
        return f'<div class="bars"><h2>Concept influence</h2><p class="note">' \
               f"{html.escape(note)}</p></div>", 0
    if not scores:
        return ('<div class="bars"><h2>Concept influence</h2><p class="note">No concept '
                "of the label map reached the minimum size.</p></div>"), 0
    beta = min(s.beta for s in scores)
    shown = sorted((s for s in scores if s.beta == beta), key=lambda s: -s.ci)[:MAX_BARS]
    top = max(2.0, max(s.ci for s in shown))
    one = 100.0 / top
    bars = "".join(
        f'<div class="bar"><span class="name">{html.escape(s.concept)}</span>'
        f'<span class="track"><span class="fill{" over" if s.ci > 1 else ""}" '
        f'style="display:block;width:{min(100.0, 100.0 * s.ci / top):.1f}%"></span>'
        f'<span class="one" style="left:{one:.1f}%"></span></span>'
        f'<span class="v">{s.ci:.2f}</span></div>' for s in shown)
    return (f'<div class="bars"><h2>Concept influence (ci, β={beta}, top-{k} pixels)</h2>'
            f'{bars}<p class="note">ci &gt; 1 (red): the concept draws more of the top-{k} '
            "attribution than its share of the image; the line marks 1.</p></div>",
            len(shown))


def render_page(title: str, model: str, photo_name: str, content: PageContent,
                photo_src: str, heat_src: str | None, ci_html: str,
                explained: str) -> str:
    """The whole HTML document."""
    fine_label = content.path[-1].label if content.path else ""
    places = [p.strip() for p in fine_label.split(",") if p.strip()][::-1]
    path_html = " › ".join(f'<span class="place">{html.escape(p)}</span>' for p in places)
    levels_html = "".join(
        f'<li data-level="{a.level}"><span class="lvl">level {a.level} · '
        f'{html.escape(a.partitioning)}</span> {html.escape(a.name)}'
        f'<span class="p">{a.probability:.1%}</span></li>' for a in content.path[::-1])
    heat = (f'<figure><img src="{heat_src}" width="{HEAT_PX}" alt="attribution heat map">'
            f"<figcaption>attribution (IG + SmoothGrad²) for {html.escape(explained)}, "
            "over the photo as the model saw it</figcaption></figure>") if heat_src else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{html.escape(photo_name)}</h1>"
        f'<div class="sub">model {html.escape(model)} ({html.escape(content.family)}) · '
        f"answer: {html.escape(fine_label)}</div>"
        f'<div class="labelpath" id="label-path">{path_html}</div>'
        f'<ol class="levels" id="levels">{levels_html}</ol>'
        f'<div class="row"><figure><img class="photo" src="{photo_src}" alt="photo">'
        "<figcaption>the photo</figcaption></figure>"
        f"{heat}{ci_html}</div>"
        + "".join(content.sections)
        + '<p class="note">Written by geotool concepts explain; this file needs no network.'
          "</p></body></html>\n")


class _NoMask:
    """A segmenter without label maps: every pixel ignored (the heat map is still made)."""

    names: dict[int, str] = {}
    ignore = (0,)

    def label_map(self, image: Any, photo: Image.Image) -> NDArray[Any]:
        return np.zeros((photo.size[1], photo.size[0]), dtype=np.int64)

    def describe(self) -> dict[str, Any]:
        return {"kind": "none"}


def explain_page(engine: Engine, params: ExplainPageParams, *,
                 progress: Progress = NO_PROGRESS) -> ExplainPageSummary:
    """Explain ``params.photo`` with ``params.model`` and write the page to ``params.out``."""
    params.validate()
    with engine.connect() as conn:
        record = get_model(conn, params.model)
    family = model_family(record)
    build = PAGE_SECTIONS.get(family)
    if build is None:
        raise UnavailableError(
            f"model {params.model!r} is of the {family!r} family, whose explain page is not "
            f"built yet (pages exist for: {', '.join(sorted(PAGE_SECTIONS))})")
    content = build(engine, params, record, progress)
    if content.attribution:
        ci_html, n_concepts, heat_src, explained_label = _attribution(engine, params,
                                                                      content, progress)
    else:
        ci_html, n_concepts, heat_src, explained_label = "", content.concepts, None, ""
    page = render_page(f"{params.photo.name}: {content.title}", params.model,
                       params.photo.name, content, photo_uri(params.photo), heat_src,
                       ci_html, explained_label)
    part = params.out.with_name(params.out.name + ".part")
    try:
        part.write_text(page, encoding="utf-8")
        os.replace(part, params.out)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise PagePathError(f"--html {params.out}: cannot write ({exc.strerror})") from None
    return ExplainPageSummary(params.out, len(page.encode()), family, content.title,
                              content.path, content.cells, n_concepts,
                              content.true_location, content.error_km)


def _attribution(engine: Engine, params: ExplainPageParams, content: PageContent,
                 progress: Progress) -> tuple[str, int, str | None, str]:
    """The classifier's explanation: (ci bars, their count, heat map URI, explained class)."""
    from geotool.explain.photo import PhotoParams, explain_photo
    from geotool.explain.pipeline import InfluenceParams
    from geotool.explain.segmenters import synthetic_masks

    mask, note = params.mask, None
    if mask is None and content.mask_path and Path(content.mask_path).is_file():
        mask = Path(content.mask_path)
    segmenter = params.segmenter or synthetic_masks()
    if mask is None and params.segmenter is None:
        segmenter = _NoMask()
        note = ("No label map for this photo: concept influence needs one (give --mask "
                "LABELS.png, or --segmenter network --seg-model …).")
    progress.phase("explanation", 1)
    influence = params.influence or InfluenceParams(min_size=0.0)
    explained = explain_photo(engine, PhotoParams(params.model, params.photo, mask,
                                                  influence=influence), segmenter=segmenter)
    progress.advance()
    ci_html, n_concepts = _ci_section(explained.scores, explained.k, note)
    heat_src = None
    if explained.model_input is not None:
        heat_src = _data_uri(heat_overlay(explained.model_input, explained.heat), "PNG",
                             optimize=True)
    return ci_html, n_concepts, heat_src, explained.target_label
