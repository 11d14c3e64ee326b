"""The explain page of an alignment-family model, loaded in a real headless Chromium.

On the tiny planet (support/learn_planet.py) a real AlignModel is trained for one epoch
(support/align_configs.small_align: small_cnn at 32 px, 10 steps). A test photo known to
the database is explained into one page; its content is checked against the model's own
answer (``predict_image_align``, as ``geotool predict-image`` gives it): Chromium's DOM
(``--dump-dom``) must hold the answer line "near <place> (p %)", the answered and the true
coordinate, one circle per top-k gallery point with that point's probability, and both
concept-score bar sets named from the model's concept bank in the answer's order; the file
holds no network resource and stays small.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image
from sqlalchemy.engine import Engine
from support.align_configs import small_align
from support.learn_planet import planet_database
from support.viewing_planet import chromium

from geotool.explain.page import MAX_BARS, ExplainPageParams, explain_page
from geotool.learn.align.predict import predict_image_align
from geotool.learn.geodesy import haversine_km
from geotool.vocab.concepts import load_vocabulary

planet = pytest.fixture(scope="module")(planet_database)


@pytest.fixture(scope="module")
def align_model(planet: tuple[str, Engine, Path],
                tmp_path_factory: pytest.TempPathFactory) -> str:
    from geotool.learn.train import TrainParams, train

    _, engine, _ = planet
    train(engine, TrainParams(small_align(tmp_path_factory.mktemp("align"),
                                          name="page_align", epochs=1)))
    return "page_align"


def _dom(page: Path, tmp: Path) -> str:
    """Chromium's DOM of the page; its screenshot must not be blank (kept in
    $GEOTOOL_DOC_IMAGES as viewing-explain-align.png when set)."""
    common = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              "--no-first-run", f"--user-data-dir={tmp / 'chromium-profile'}"]
    png = tmp / "viewing-explain-align.png"
    shot = subprocess.run(common + ["--window-size=1200,1400", f"--screenshot={png}",
                                    page.as_uri()], capture_output=True, text=True,
                          timeout=120)
    assert png.exists(), shot.stderr[-2000:]
    pixels = np.asarray(Image.open(png).convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200
    keep = os.environ.get("GEOTOOL_DOC_IMAGES")
    if keep:
        shutil.copy(png, Path(keep) / png.name)
    dom = subprocess.run(common + ["--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom.stdout


def _bars(dom: str, css_id: str) -> list[tuple[str, str]]:
    block = re.search(rf'<div class="bars" id="{css_id}">(.*?)<p class="note">', dom, re.S)
    assert block is not None, css_id
    return re.findall(r'<div class="bar" data-concept="[^"]*"><span class="name">(.*?)</span>'
                      r'.*?<span class="v">(.*?)</span></div>', block.group(1), re.S)


def test_align_page_in_chromium(planet: tuple[str, Engine, Path], align_model: str,
                                tmp_path: Path) -> None:
    _, engine, _ = planet
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT i.path, i.lat, i.lon FROM images i JOIN datasets d ON d.id = "
            "i.dataset_id WHERE d.name = 'tiny' AND i.split = 'test' ORDER BY i.id LIMIT 1"
        )).one()
    photo, lat, lon = Path(row.path), float(row.lat), float(row.lon)
    out = tmp_path / "align.html"
    summary = explain_page(engine, ExplainPageParams(photo, align_model, out, top_k=10,
                                                     crops=1))
    text = out.read_text(encoding="utf-8")
    assert summary.family == "align" and summary.bytes == len(text.encode()) < 2_000_000
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert summary.true_location == pytest.approx((lat, lon))

    want: Any = predict_image_align(engine, align_model, [photo], top_k=10)[0]
    assert want.error is None and want.place and len(want.top_k) == 10
    assert summary.answer == want.summary_line() and summary.cells == 10
    assert summary.error_km == pytest.approx(float(haversine_km(want.lat, want.lon, lat,
                                                                lon)))
    bank = load_vocabulary("planet").names  # the model's bank (small_align's concept_vocab)
    assert len(bank) >= 2 and sorted(n for n, _ in want.concepts) == sorted(bank)
    assert sorted(n for n, _ in want.location_concepts) == sorted(bank)

    dom = _dom(out, tmp_path)
    near = f"near {want.place} ({want.confidence:.0%})".replace("%", " %")
    answer = re.search(r'<p class="alignanswer" id="align-answer">(.*?)</p>', dom, re.S)
    assert answer is not None and html.unescape(answer.group(1)) == near
    assert f"answered coordinate {want.lat:.4f}, {want.lon:.4f}" in dom
    assert f"true location {lat:.4f}, {lon:.4f}" in dom
    points = re.findall(r'<circle class="point" data-rank="(\d+)" data-p="([0-9.]+)"', dom)
    assert sorted((int(r), float(p)) for r, p in points) == \
        [(i, pytest.approx(p.probability, abs=1e-4)) for i, p in enumerate(want.top_k, 1)]
    assert len(re.findall(r'<circle class="truth"', dom)) == 1
    assert len(re.findall(r'<circle class="predicted"', dom)) == 1
    for css_id, scores in (("image-concepts", want.concepts),
                           ("place-concepts", want.location_concepts)):
        bars = _bars(dom, css_id)
        assert [(html.unescape(n), float(v)) for n, v in bars] == \
            [(n, pytest.approx(s, abs=1e-3)) for n, s in scores[:MAX_BARS]]
    assert summary.concepts == min(MAX_BARS, len(want.concepts))
